"""The operators' web pages: the live dashboard (status and alerts; overrides come later)."""

from orchestrator.web.app import make_dashboard_app, serve_dashboard
from orchestrator.web.hub import DashboardHub

__all__ = ["DashboardHub", "make_dashboard_app", "serve_dashboard"]
