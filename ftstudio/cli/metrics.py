"""`ftstudio metrics --project P [--add-metric PATH] [--remove-metric NAME]`: the studio's own evaluate modules and
the project's, added or removed by path (`metrics --run` scores a review: cli/judge.py registers the command).
Thin over ftstudio.evaluation.metric_modules."""

from __future__ import annotations

from ftstudio.cli.common import open_studio as _open, print_result as _print, resolve_project as _project
from ftstudio.cli.common import settings_from as _settings


def cmd_project_metrics(args) -> int:
    from ftstudio.evaluation import metric_modules

    store = _open(_settings(args))
    project = _project(store, args.project)
    for path in args.add_metric or []:
        metric_modules.add_project_metric(store, project, path)
        project = store.get_project(project.id)
    for name in args.remove_metric or []:
        metric_modules.remove_project_metric(store, project, name)
        project = store.get_project(project.id)
    user = [{"name": metric_modules.module_name(path), "path": path}
            for path in metric_modules.project_metric_paths(project)]
    payload = {"project": project.name, "builtin": list(metric_modules.BUILTIN), "user": user}
    lines = [f"{project.name}: built-in metrics {', '.join(metric_modules.BUILTIN)}",
             "  your evaluate modules: " + (", ".join(f"{m['name']} ({m['path']})" for m in user) or "none")]
    _print(payload, args.json, "\n".join(lines))
    return 0
