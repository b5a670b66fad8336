"""Procedural performance engine (phonetics + prosody + controls -> rig curves). Entry point: engine.synthesize."""
