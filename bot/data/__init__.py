"""Data files shipped with the bot: the demo organisation."""

from pathlib import Path

DEMO_ORG = Path(__file__).parent / "demo_org.yaml"
