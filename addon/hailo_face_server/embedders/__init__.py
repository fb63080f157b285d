"""Face embedders: each aligns faces from the landmarks of one scheme and turns the chips into vectors."""
