from django.apps import AppConfig


class StudioConfig(AppConfig):
    name = "studio"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        from studio import worker

        post_spawn.connect(worker.on_spawn, dispatch_uid="studio.worker.on_spawn")
