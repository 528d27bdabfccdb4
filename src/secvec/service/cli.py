"""`secvec service`: start the fine-tuning service, and make API keys for its tenants."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

service_app = typer.Typer(help="The fine-tuning service (OpenAI fine-tuning API; every job trains with the "
                               "security vectors on).", invoke_without_command=True)
key_app = typer.Typer(no_args_is_help=True, help="API keys of the service's tenants.")
service_app.add_typer(key_app, name="key")

HomeOpt = typer.Option(None, "--home", help="service folder: database, uploaded files, jobs "
                                            "(default: <secvec cache>/service)")


def service_home(home: Optional[Path]) -> Path:
    from secvec.models.loading import cache_root

    return home or cache_root() / "service"


def demo_artifacts() -> dict:
    """The aligned model and vectors the last `secvec demo` made (the service's defaults)."""
    from secvec.errors import ConfigError
    from secvec.models.loading import cache_root

    path = cache_root() / "latest-demo.json"
    if not path.exists():
        raise ConfigError("no --model/--vectors given and no `secvec demo` run found: run the demo first, or pass "
                          "your aligned model and security vectors")
    return json.loads(path.read_text())


@service_app.callback()
def service(ctx: typer.Context,
            config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML of service settings "
                                                  "(secvec/service/settings.py); the options below override it"),
            model: Optional[str] = typer.Option(None, help="the aligned model every job tunes (default: the demo's)"),
            vectors: Optional[str] = typer.Option(None, help="security vectors dir (default: the demo's)"),
            home: Optional[Path] = HomeOpt,
            host: str = typer.Option("127.0.0.1", help="interface (beyond loopback needs API keys)"),
            port: int = typer.Option(8000),
            safety_margin: Optional[float] = typer.Option(None, min=0, max=1, help="harmful-rate rise above the "
                                                          "base's at which a tuned model is not deployed (0.10)"),
            num_processes: Optional[int] = typer.Option(None, min=1, help="processes per job under accelerate "
                                                        "(one per GPU; 1)")) -> None:
    """Start the service (the subcommand `key` makes API keys instead)."""
    if ctx.invoked_subcommand is not None:
        return
    import yaml
    from pydantic import ValidationError

    from secvec.errors import ConfigError
    from secvec.serve import is_loopback, run_server
    from secvec.service import ServiceSettings, Store, create_service_app

    values = {}
    if config:
        if not config.exists():
            raise ConfigError(f"{config}: file not found")
        values = yaml.safe_load(config.read_text()) or {}
    given = {"model": model, "vectors": vectors, "safety_margin": safety_margin, "num_processes": num_processes}
    values.update({k: v for k, v in given.items() if v is not None})
    values["home"] = home = Path(home or values.get("home") or service_home(None))
    if not values.get("model") or not values.get("vectors"):
        demo = demo_artifacts()
        values.setdefault("model", demo["aligned_model"])
        values.setdefault("vectors", demo["vectors"])
    keys = Store.at(home).has_keys()
    if not keys and not is_loopback(host):
        raise ConfigError(f"listening on {host} (beyond this machine) needs API keys: make one with "
                          f"`secvec service key create --tenant NAME --home {home}`")
    try:
        settings = ServiceSettings(**values)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise ConfigError(f"service settings: {problems}") from None
    api = create_service_app(settings, open_access=not keys)
    access = "API keys required" if keys else "open to this machine only (no keys made yet)"
    typer.echo(f"secvec service: base model {settings.base_name} ({settings.model}), vectors {settings.vectors}; "
               f"{access}; data in {home}; http://{host}:{port}/v1", err=True)
    run_server(api, host, port)


@key_app.command("create")
def key_create(tenant: str = typer.Option(..., help="tenant name (made on first use)"),
               home: Optional[Path] = HomeOpt) -> None:
    """Make an API key for a tenant; it is shown once and stored hashed."""
    from secvec.service import Store

    typer.echo(Store.at(service_home(home)).create_key(tenant))
