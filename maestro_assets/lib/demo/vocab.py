"""Word lists the demo generator draws names, titles and source code from.

Everything here is plain data: the generator picks from these lists with its seeded random
generator, so the same seed always yields the same names.
"""

from __future__ import annotations

FIRST_NAMES = (
    "Ada", "Alan", "Amara", "Anika", "Arjun", "Aurora", "Ben", "Bianca", "Carlos", "Chen",
    "Chiara", "Daniel", "Dara", "Diego", "Elena", "Emeka", "Emma", "Erik", "Fatima", "Felix",
    "Grace", "Hana", "Hugo", "Ines", "Ivan", "Jamal", "Jana", "Jonas", "Julia", "Kai",
    "Kenji", "Lara", "Leila", "Leo", "Lina", "Lucas", "Maya", "Mei", "Mila", "Nadia",
    "Nikhil", "Noah", "Nora", "Omar", "Oskar", "Priya", "Rafael", "Rosa", "Sami", "Sara",
    "Sofia", "Tariq", "Theo", "Tomas", "Uma", "Valentina", "Wei", "Yara", "Yusuf", "Zoe",
)
LAST_NAMES = (
    "Adeyemi", "Andersen", "Bauer", "Becker", "Brown", "Castro", "Chen", "Costa", "Dubois", "Evans",
    "Fischer", "Garcia", "Gupta", "Hansen", "Hoffmann", "Ibrahim", "Ito", "Jensen", "Kaur", "Khan",
    "Kim", "Kowalski", "Larsen", "Lee", "Lopez", "Martin", "Meyer", "Moreau", "Muller", "Nakamura",
    "Nguyen", "Novak", "Okafor", "Olsen", "Patel", "Perez", "Petrov", "Rossi", "Santos", "Schmidt",
    "Schneider", "Silva", "Singh", "Smith", "Sato", "Tanaka", "Torres", "Wagner", "Wang", "Weber",
    "Williams", "Wong", "Yamamoto", "Young", "Zhang", "Ziegler",
)
TEAM_ADJECTIVES = (
    "Amber", "Azure", "Bold", "Bright", "Cobalt", "Crimson", "Emerald", "Golden", "Indigo", "Ivory",
    "Jade", "Lunar", "Mighty", "Nimble", "Onyx", "Polar", "Rapid", "Silent", "Solar", "Swift",
)
TEAM_NOUNS = (
    "Badgers", "Cranes", "Dolphins", "Falcons", "Foxes", "Hawks", "Herons", "Ibises", "Jaguars", "Koalas",
    "Lynxes", "Orcas", "Otters", "Owls", "Pandas", "Ravens", "Salmon", "Tigers", "Wolves", "Yaks",
)
DEPARTMENTS = ("Engineering", "Data", "Platform", "Product", "Research", "Infrastructure")

ROLES = ("engineer", "senior_engineer", "staff_engineer", "data_scientist", "ml_engineer", "designer", "manager")
ROLE_WEIGHTS = (0.34, 0.22, 0.07, 0.12, 0.12, 0.06, 0.07)
ROLE_BASE_RATE = (70.0, 95.0, 125.0, 90.0, 100.0, 75.0, 110.0)
# Mean skill levels (backend, frontend, database, devops) per role, same order as ROLES.
ROLE_SKILLS = (
    (0.60, 0.45, 0.45, 0.40),
    (0.70, 0.50, 0.55, 0.50),
    (0.75, 0.50, 0.60, 0.60),
    (0.40, 0.20, 0.65, 0.25),
    (0.55, 0.20, 0.55, 0.50),
    (0.20, 0.75, 0.15, 0.15),
    (0.40, 0.35, 0.35, 0.30),
)
SKILLS = ("backend", "frontend", "database", "devops")
CAPACITIES = (40.0, 36.0, 32.0, 24.0, 20.0)
CAPACITY_WEIGHTS = (0.62, 0.10, 0.14, 0.08, 0.06)

PROJECT_CODENAMES = (
    "Aquila", "Atlas", "Aurora", "Beacon", "Borealis", "Cascade", "Comet", "Compass", "Cygnus", "Delta",
    "Eclipse", "Ember", "Falcon", "Fjord", "Galileo", "Glacier", "Halcyon", "Harbor", "Helix", "Horizon",
    "Kepler", "Lighthouse", "Lumen", "Mercury", "Meridian", "Mosaic", "Nebula", "Nimbus", "Nova", "Odyssey",
    "Orbit", "Orion", "Pegasus", "Phoenix", "Pioneer", "Polaris", "Prism", "Pulsar", "Quasar", "Radiant",
    "Sentinel", "Sequoia", "Sierra", "Solstice", "Spectrum", "Summit", "Tempest", "Titan", "Vanguard", "Vega",
    "Vertex", "Voyager", "Zenith", "Zephyr",
)
PROJECT_THEMES = (
    "Billing", "Checkout", "Search", "Onboarding", "Analytics", "Recommendations", "Payments", "Notifications",
    "Identity", "Reporting", "Forecasting", "Inventory", "Pricing", "Messaging", "Mobile", "Data Platform",
)

TASK_VERBS = (
    "Implement", "Fix", "Refactor", "Migrate", "Add", "Optimise", "Document", "Test", "Review", "Upgrade",
    "Design", "Remove", "Instrument", "Automate", "Investigate",
)
TASK_OBJECTS = (
    "login flow", "payment API", "search index", "user profile page", "billing job", "schema migration",
    "cache layer", "CI pipeline", "feature flags", "audit log", "rate limiter", "export endpoint",
    "dashboard widget", "notification service", "retry logic", "data loader", "model training job",
    "feature pipeline", "deployment script", "alerting rules", "access control", "database indexes",
    "GraphQL resolver", "webhook handler", "onboarding wizard", "metrics collector", "backup job",
    "error pages", "session store", "report generator",
)

ARTIFACT_KINDS = ("dataset", "feature_view", "model", "code")
ARTIFACT_KIND_WEIGHTS = (0.35, 0.20, 0.25, 0.20)
ARTIFACT_SUBJECTS = (
    "customer", "order", "session", "invoice", "product", "churn", "fraud", "demand", "clickstream", "ticket",
    "shipment", "pricing", "campaign", "inventory", "review", "payment",
)
ARTIFACT_QUALIFIERS = (
    "daily", "hourly", "features", "events", "summary", "embeddings", "scores", "snapshots", "aggregates",
    "labels", "forecast", "profile",
)
ARTIFACT_TAGS = (
    "pii", "gold", "silver", "bronze", "experimental", "production", "deprecated", "finance", "marketing",
    "ml", "realtime", "batch", "core", "shared",
)

BRANCH_TOPICS = (
    "auth", "billing", "caching", "cleanup", "docs", "export", "metrics", "onboarding", "perf", "retry",
    "search", "settings", "telemetry", "ui-polish", "validation", "webhooks",
)

CODE_VERBS = ("load", "parse", "compute", "validate", "render", "merge", "score", "filter", "build", "fetch",
              "normalise", "aggregate", "resolve", "encode", "schedule")
CODE_NOUNS = ("user", "order", "session", "report", "metric", "token", "record", "batch", "config", "event",
              "invoice", "profile", "window", "payload", "query")
CODE_MODULES = ("api", "models", "storage", "jobs", "utils", "auth", "billing", "search", "metrics", "cli",
                "cache", "events", "reports", "scheduler", "validation")
