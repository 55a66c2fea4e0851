"""Team and artifact analytics ("the music library"): the warehouse data model, the artifact library,
git and CI/CD metrics. Each module stands alone; nothing is shared through this package file."""
