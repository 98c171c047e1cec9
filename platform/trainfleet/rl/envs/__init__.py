"""gymnasium registrations of trainfleet's own environments (the notes' grid worlds)."""
