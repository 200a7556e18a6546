"""The autoscaler: Kubernetes HPA semantics for the API, KEDA's for the workers.

``policy`` holds the knobs, ``hpa`` and ``keda`` the arithmetic (pure: recorded inputs in,
an explained ``Decision`` out), ``controller`` the loop that reads the signals and scales
through the same ``Lab.scale`` as everything else, ``replay`` the offline re-run of a
finished run under another policy.
"""
