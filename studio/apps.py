from django.apps import AppConfig


class StudioConfig(AppConfig):
    name = "studio"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        from studio import media, worker  # noqa: F401  (media registers the storage system check)

        post_spawn.connect(worker.on_spawn, dispatch_uid="studio.worker.on_spawn")
