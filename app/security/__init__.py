"""The station's people in the GUI: logging in, signing a change, and the administrator's screens."""
