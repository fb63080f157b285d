"""What the cameras saw: sightings, their quality, unknown-face clusters and their review."""
