"""Step Functions: StopExecution stops a run at once, whatever the run is doing.

- A run waiting in a `.waitForTaskToken` task (a manual judgment waiting for its judge) is
  not stopped by `Execution.stop` (moto/stepfunctions/parser/backend/execution.py): the
  stop marks the program stopped, but the run's thread stays blocked in the task until the
  token is answered or times out, and the run reads RUNNING until then (a restarted
  judgment canceled at once stayed RUNNING for good). Step Functions ends a stopped run at
  once. Here the run reads ABORTED from the stop on; the blocked thread ends quietly when
  the token is answered, as the stopped program takes no further state.
- StartExecution answers before the run's thread has made its environment
  (`ExecutionWorker._execution_logic`, .../backend/execution_worker.py) and entered its
  first state. A stop in between was lost: `ExecutionWorker.stop` failed on the missing
  environment (a 500), and `Environment.set_stop` (.../asl/eval/environment.py) ignores a
  program not running yet. Here such a stop is remembered and applied as the program enters
  its first state.
"""
import threading

from moto.stepfunctions.parser.api import ExecutionStatus
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.backend.execution import Execution
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

# Guards the hand-over between a stop and the run's environment being made.
_handover = threading.Lock()


def apply() -> None:
    stock_execution_stop = Execution.stop
    stock_environment = ExecutionWorker._get_evaluation_environment
    stock_set_stop = Environment.set_stop
    stock_next_state = Environment.next_state_name

    def execution_stop(self, stop_date, error, cause):
        stock_execution_stop(self, stop_date, error, cause)
        if self.exec_status == ExecutionStatus.RUNNING:
            self.exec_status = ExecutionStatus.ABORTED
            self.stop_date = stop_date

    def get_evaluation_environment(self):
        env = stock_environment(self)
        with _handover:
            self._gennaker_env = env
            early = getattr(self, "_gennaker_early_stop", None)
        if early is not None:
            env.set_stop(*early)
        return env

    def worker_stop(self, stop_date, error, cause):
        with _handover:
            env = getattr(self, "_gennaker_env", None) or self.env
            if env is None:
                self._gennaker_early_stop = (stop_date, cause, error)
                return
        env.set_stop(stop_date=stop_date, cause=cause, error=error)

    def set_stop(self, stop_date, cause, error):
        with self._state_mutex:
            if self._program_state is None:
                self._gennaker_pending_stop = (stop_date, cause, error)
                return
            stock_set_stop(self, stop_date, cause, error)

    def set_next_state_name(self, next_state_name):
        with self._state_mutex:
            stock_next_state.fset(self, next_state_name)
            pending = self.__dict__.pop("_gennaker_pending_stop", None)
            if pending is not None:
                stock_set_stop(self, *pending)

    Execution.stop = execution_stop
    ExecutionWorker._get_evaluation_environment = get_evaluation_environment
    ExecutionWorker.stop = worker_stop
    Environment.set_stop = set_stop
    Environment.next_state_name = stock_next_state.setter(set_next_state_name)
