"""Released versions: frozen snapshots in versions/<version>/, and what changed between two versions."""
