from __future__ import annotations

from hailo_face_server.cli import main

raise SystemExit(main())
