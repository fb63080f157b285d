"""The web page (the app's sidebar panel through Home Assistant's ingress): review, activity, people, status.

Server-rendered frames (aiohttp-jinja2) and small scripts without a build step
that call only the public ``/v1`` API, as any client would.
"""

from hailo_face_server.web.pages import PAGE_PATHS, is_public_path, login_page, setup

__all__ = ["PAGE_PATHS", "is_public_path", "login_page", "setup"]
