"""Planning and dispatching runs: what to send, how fast, and where results go."""

from vton_eval.runner.create import RunError, create_run
from vton_eval.runner.run import Progress, RunReport, execute_run
from vton_eval.runner.settings import RunSettings

__all__ = ["Progress", "RunError", "RunReport", "RunSettings", "create_run", "execute_run"]
