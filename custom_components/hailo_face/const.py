"""Constants of the Hailo Face integration."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "hailo_face"
DEFAULT_URL: Final = "http://localhost:5002"
DEFAULT_TITLE: Final = "Hailo Face"

CONF_CAMERAS: Final = "cameras"
CONF_ADDON_SLUG: Final = "addon_slug"  # set when the app announced the server
CONF_CONFIDENCE: Final = "confidence"
CONF_SCAN_INTERVAL: Final = "scan_interval"
CONF_MAX_FACES: Final = "max_faces"

# Confidence is the server's calibrated 0-1 confidence in percent; 50 is the
# model's own operating point (as likely the same person as not).
DEFAULT_CONFIDENCE: Final = 50.0
# Seconds between scans of each camera; 0 scans only when image_processing.scan is called.
DEFAULT_SCAN_INTERVAL: Final = 10
DEFAULT_MAX_FACES: Final = 10
# The server's ranges (hailo_face_server/ranges.py: this package cannot import it; a test keeps them equal).
MAX_FACES_RANGE: Final = (1, 100)
HEALTH_POLL_SECONDS: Final = 30
PEOPLE_POLL_SECONDS: Final = 30
# A person in view fires the camera's event once per cooldown, not at every scan.
CONF_EVENT_COOLDOWN: Final = "event_cooldown"
DEFAULT_EVENT_COOLDOWN: Final = 60
# "Seen recently" stays on this many minutes after a person's last sighting.
CONF_SEEN_MINUTES: Final = "seen_minutes"
DEFAULT_SEEN_MINUTES: Final = 10
EVENT_RECOGNIZED: Final = "recognized"
EVENT_UNKNOWN: Final = "unknown"

ATTR_BOUNDING_BOX: Final = "bounding_box"
ATTR_IDENTITY_ID: Final = "identity_id"
ATTR_TOTAL_MATCHED_FACES: Final = "total_matched_faces"
ATTR_LAST_DETECTION: Final = "last_detection"
UNKNOWN_NAME: Final = "unknown"

SERVICE_TEACH: Final = "teach"
SERVICE_FORGET: Final = "forget"
SERVICE_LIST: Final = "list"
SERVICE_LABEL: Final = "label"
SERVICE_REJECT: Final = "reject"
ATTR_SIGHTING_ID: Final = "sighting_id"
ATTR_SIGHTING_IDS: Final = "sighting_ids"
ATTR_CLUSTER_ID: Final = "cluster_id"
ATTR_NAME: Final = "name"
ATTR_CAMERA: Final = "camera"
ATTR_FILE: Final = "file"
ATTR_LARGEST_FACE: Final = "largest_face"
ATTR_FACE_ID: Final = "face_id"
ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
