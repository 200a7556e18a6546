"""The shop worker: a JetStream pull consumer that processes orders effectively once."""
