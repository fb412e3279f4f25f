"""Celery app for benches/cycle_bench.py: the project's app, every task it queues kept on the
bench's own queue (BENCH_QUEUE), so no other worker on the broker takes the bench's work."""
import os

from connector.celery import app

app.conf.task_default_queue = os.environ.get("BENCH_QUEUE", "celery")

if os.environ.get("BENCH_PROFILE"):  # --profile: where a worker's task time goes, dumped every 50 tasks
    import cProfile

    from celery.signals import task_postrun, task_prerun

    _profile = cProfile.Profile()
    _tasks = [0]

    @task_prerun.connect
    def _profile_start(**kwargs) -> None:
        _profile.enable()

    @task_postrun.connect
    def _profile_stop(**kwargs) -> None:
        _profile.disable()
        _tasks[0] += 1
        if _tasks[0] % 50 == 0:
            _profile.dump_stats(os.path.join(os.environ["BENCH_PROFILE"], f"worker-{os.getpid()}.prof"))
