from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"
    verbose_name = "Agencies and projects"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from projects.current_agency import mark_member_session

        # A session opened as a member is marked at sign-in (not on its first request, which
        # would write the session once more): projects/current_agency.py.
        user_logged_in.connect(mark_member_session, dispatch_uid="projects.mark_member_session")
