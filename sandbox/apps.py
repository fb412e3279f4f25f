from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """Simulators of Vantagepoint, Cleo and Stripe. They import nothing from connector/,
    edi/ or billing/: a simulator that shares our client's code cannot catch its mistakes."""

    name = "sandbox"
    verbose_name = "Sandbox simulators"
