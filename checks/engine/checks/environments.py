"""Environments of the hardening stage: are staging and production secrets kept apart?

The facts are what CI posted for each environment: variable names and the SHA-256 of each
value (``spec.hardening.environments``, never a value). Two rules decide what a name means,
shared with the client-bundle scan (``checks/engine/checks/secrets_bundle.py``):

- ``client_prefix(name)``: the prefix a front-end build tool uses to copy a variable into
  the JavaScript it ships to every browser:

  - ``NEXT_PUBLIC_`` Next.js, "Bundling Environment Variables for the Browser"
    (https://nextjs.org/docs/app/guides/environment-variables);
  - ``VITE_`` Vite's default ``envPrefix`` (https://vite.dev/guide/env-and-mode);
  - ``REACT_APP_`` Create React App, "Adding Custom Environment Variables"
    (https://create-react-app.dev/docs/adding-custom-environment-variables/);
  - ``EXPO_PUBLIC_`` Expo (https://docs.expo.dev/guides/environment-variables/);
  - ``NUXT_PUBLIC_`` Nuxt ``runtimeConfig.public``
    (https://nuxt.com/docs/guide/going-further/runtime-config);
  - ``GATSBY_`` Gatsby (https://www.gatsbyjs.com/docs/how-to/local-development/environment-variables/);
  - ``PUBLIC_`` SvelteKit ``$env/static/public`` (https://svelte.dev/docs/kit/$env-static-public)
    and Astro (https://docs.astro.build/en/guides/environment-variables/).

- ``secret_named(name)``: the name, its client prefix removed, says it holds a secret. Its
  ``_``-separated words are matched against the words detect-secrets' KeywordDetector treats
  as secret assignments (``detect_secrets/plugins/keyword.py``, ``DENYLIST``: secret,
  password, passwd, private key, api key …) plus TOKEN and CREDENTIAL(S): a word containing
  SECRET, PASSWORD, PASSWD, PRIVATE, TOKEN or CREDENTIAL, or a word ending in KEY
  (``API_KEY``, ``APIKEY``). A KEY name that also says PUBLISHABLE, PUBLIC or ANON is a key
  made to be public (Stripe's publishable key, https://docs.stripe.com/keys; Supabase's anon
  key, https://supabase.com/docs/guides/api/api-keys), so it does not count; nor does KEY
  alone in a client-prefixed name: ``NEXT_PUBLIC_FIREBASE_API_KEY`` is how Firebase's and
  Google Maps' browser keys are meant to be shipped, and the bundle scan judges such a key by
  its value (a Google key is for review, an OpenAI or Stripe secret key a leak). ``PWD`` is
  not a marker: shells set it to the working directory.
"""

from __future__ import annotations

import re

from checks.engine.checks.deploys import hardening_apex
from checks.engine.registry import Context, check
from checks.engine.result import Impact, Result, Stage
from checks.engine.spec import EnvironmentFacts
from checks.engine.text import first_few

# Longest first: PUBLIC_ is also the tail of NEXT_PUBLIC_ and the others.
CLIENT_PREFIXES = ("NEXT_PUBLIC_", "NUXT_PUBLIC_", "EXPO_PUBLIC_", "REACT_APP_", "GATSBY_", "VITE_",
                   "PUBLIC_")
SECRET_WORDS = ("SECRET", "PASSWORD", "PASSWD", "PRIVATE", "TOKEN", "CREDENTIAL")
PUBLIC_KEY_WORDS = ("PUBLISHABLE", "PUBLIC", "ANON")
PRODUCTION, STAGING = "production", "staging"
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
# SHA-256 of the empty string: two empty values are both unset, not one secret shared.
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def client_prefix(name: str) -> str | None:
    """The client-exposed prefix ``name`` starts with (``"NEXT_PUBLIC_"``), or ``None``.
    Case-insensitive: build tools compare names as written, but CI systems upper-case."""
    upper = name.upper()
    return next((p for p in CLIENT_PREFIXES if upper.startswith(p)), None)


def secret_named(name: str) -> bool:
    """``name`` (its client prefix removed) marks a secret: ``STRIPE_SECRET_KEY``,
    ``DB_PASSWORD``, ``NEXT_PUBLIC_ADMIN_TOKEN`` → True; ``STRIPE_PUBLISHABLE_KEY``,
    ``NEXT_PUBLIC_FIREBASE_API_KEY``, ``NODE_ENV``, ``PWD`` → False. Rule and sources in the
    module docstring."""
    upper = name.upper()
    prefix = client_prefix(upper)
    words = [w for w in re.split(r"[^A-Z0-9]+", upper[len(prefix or ""):]) if w]
    if any(marker in word for word in words for marker in SECRET_WORDS):
        return True
    if prefix or not any(word.endswith("KEY") for word in words):
        return False
    return not any(word in PUBLIC_KEY_WORDS for word in words)


def secret_fingerprints(environments: tuple[EnvironmentFacts, ...]) -> dict[str, list[str]]:
    """SHA-256 (lower-case hex) → the secret-named variables (``"production:STRIPE_SECRET_KEY"``)
    whose value has it, across every environment; malformed and empty-value fingerprints left
    out. What the bundle scan compares its string literals with."""
    found: dict[str, list[str]] = {}
    for env in environments:
        for name, digest in env.variables:
            digest = str(digest).lower()
            if secret_named(name) and _SHA256_HEX.match(digest) and digest != EMPTY_SHA256:
                found.setdefault(digest, []).append(f"{env.name}:{name}")
    return found


def _shared_with_production(envs: dict[str, EnvironmentFacts]) -> dict[str, list[str]]:
    """Environment → its secret-named variables whose value equals a secret-named production
    variable's (by SHA-256), named ``"NAME"``, or ``"NAME (production: OTHER)"`` when production
    calls it differently. Compared by value, so a renamed copy is still found."""
    production = secret_fingerprints((envs[PRODUCTION],))
    shared: dict[str, list[str]] = {}
    for env in envs.values():
        if env.name == PRODUCTION:
            continue
        names = []
        for name, digest in env.variables:
            twins = [p.split(":", 1)[1] for p in production.get(str(digest).lower(), [])]
            if twins and secret_named(name):
                names.append(name if name in twins else f"{name} (production: {first_few(twins)})")
        if names:
            shared[env.name] = sorted(names)
    return shared


def _exposed(environments: tuple[EnvironmentFacts, ...]) -> list[str]:
    names = {n for env in environments for n, _ in env.variables if client_prefix(n) and secret_named(n)}
    return sorted(names)


def _malformed(environments: tuple[EnvironmentFacts, ...]) -> list[str]:
    return sorted({f"{env.name}:{n}" for env in environments for n, d in env.variables
                   if not _SHA256_HEX.match(str(d).lower())})


_FIX_SHARED = ("Give staging its own keys (a test-mode Stripe key, its own database password): a "
               "staging leak or a staging deploy bug must not reach production data. Rotate the "
               "shared production secret after the change.")
_FIX_EXPOSED = ("Rename the variable without the client prefix and read it only on the server "
                "(an API route or server action); rotate it: every visitor's browser has had it.")
_FIX_RECORD = ("Record the project's environments and have CI post each one's variable names and "
               "SHA-256 fingerprints (never the values) after every deploy.")
_FIX_STAGING = ("Add a staging environment with its own secrets, deploy there first, and record "
                "it so its variables are posted too.")


@check(
    "hardening.environments",
    stage=Stage.HARDENING,
    impact=Impact.HIGH,
    title="Staging and production keep separate secrets",
    targets=hardening_apex,
)
def environments(target: str, ctx: Context) -> Result:
    """Staging and production do not share a secret, and no secret carries a client prefix.

    From the environments CI posted (names and SHA-256 fingerprints of the values, FIPS 180-4
    and RFC 6234; never a value); which names mark a secret and which prefixes reach the
    browser is defined in this module's docstring, with the framework docs for each prefix. No
    RFC governs the separation of environments: the agency's rule is that staging never holds
    a production key.

    - fail: a secret-named variable has the same SHA-256 in production and in another
      environment (staging, or development: either way a laptop or a test deploy holds the
      production key) — summary "<names> has/have the same value in <env> and production";
      and/or a secret-named variable carries a client prefix — "<names> is/are compiled into
      the client bundle (client prefix)". Both parts are joined with "; ".
    - warn: no environment recorded ("no environments recorded: …") — a gap in the record, not
      evidence of a shared key, so it does not rank with one; no production environment
      recorded; no staging environment ("no staging environment recorded (production only):
      deploys cannot be tried before production"); production or every other environment
      posted no variables.
    - pass: production and staging are recorded, variables were posted, and no secret is
      shared or client-prefixed.
    - error: never — the check reads recorded facts, it fetches nothing. A fingerprint that is
      not 64 hex digits (the panel refuses them on post) is left out of every comparison and
      listed under ``malformed``.
    Evidence: variable names only (``shared``: env → names, ``client_exposed``, ``malformed``,
    ``environments``: name → variable count).
    """
    facts = ctx.project.hardening
    recorded = facts.environments if facts is not None else ()
    envs = {env.name: env for env in recorded}
    evidence = {"environments": {env.name: len(env.variables) for env in recorded},
                "shared": {}, "client_exposed": [], "malformed": _malformed(recorded)}
    metrics = {"environments": len(recorded)}
    if not recorded:
        return Result.warn("no environments recorded: whether staging and production share a secret "
                           "is unknown", evidence, metrics=metrics, remediation=_FIX_RECORD)
    exposed = _exposed(recorded)
    shared = _shared_with_production(envs) if PRODUCTION in envs else {}
    evidence.update(shared=shared, client_exposed=exposed)
    metrics.update(shared=sum(len(v) for v in shared.values()), client_exposed=len(exposed))
    if shared or exposed:
        return _failed(shared, exposed, evidence, metrics)
    if PRODUCTION not in envs:
        return Result.warn(f"no production environment recorded ({first_few(sorted(envs))} only): "
                           "separation cannot be judged", evidence, metrics=metrics, remediation=_FIX_RECORD)
    if STAGING not in envs:
        return Result.warn(f"no staging environment recorded ({first_few(sorted(envs))} only): deploys "
                           "cannot be tried before production", evidence, metrics=metrics,
                           remediation=_FIX_STAGING)
    others = [env for env in recorded if env.name != PRODUCTION]
    if not envs[PRODUCTION].variables or not any(env.variables for env in others):
        empty = PRODUCTION if not envs[PRODUCTION].variables else first_few([e.name for e in others])
        return Result.warn(f"no variables posted for {empty}: separation cannot be judged", evidence,
                           metrics=metrics, remediation=_FIX_RECORD)
    compared = sum(1 for n, _ in envs[PRODUCTION].variables if secret_named(n))
    noun = "variable" if compared == 1 else "variables"
    return Result.passed(f"{compared} secret-named production {noun}, none shared with "
                         f"{first_few([e.name for e in others])}; no secret has a client prefix",
                         evidence, metrics=metrics)


def _failed(shared: dict[str, list[str]], exposed: list[str], evidence: dict, metrics: dict) -> Result:
    parts = [f"{first_few(names)} {'has' if len(names) == 1 else 'have'} the same value in {env} "
             "and production" for env, names in shared.items()]
    if exposed:
        prefixes = first_few(sorted({client_prefix(n) or "" for n in exposed}))
        verb = "is" if len(exposed) == 1 else "are"
        parts.append(f"{first_few(exposed)} {verb} compiled into the client bundle ({prefixes} prefix)")
    fixes = ([_FIX_SHARED] if shared else []) + ([_FIX_EXPOSED] if exposed else [])
    return Result.fail("; ".join(parts), evidence, metrics=metrics, remediation=" ".join(fixes))
