"""The compose runtime: compose.yaml's services as Docker containers (python-on-whales).

``runtime`` holds ``ComposeRuntime``; ``state`` what a compose lab records under
``.lab/``; ``lb`` reads HAProxy's stats; ``images`` decides optional profiles. The
programs that run inside the containers live in ``lab.agents``.
"""

from lab.runtime.compose.runtime import ComposeRuntime

__all__ = ["ComposeRuntime"]
