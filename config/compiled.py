"""Hot querysets compiled to SQL once per process, on PostgreSQL.

Django compiles a queryset to SQL every time it is evaluated, and for a select_related query
over wide models that costs far more CPU than PostgreSQL spends answering it: a third of a
sync request's web CPU went to compiling its two queries (the API key, the answer's images), and
the worker's claim load is wider still. A query whose shape never changes is compiled once
here, with placeholders where its values go; each run puts the values in and builds instances
with Django's own code (ModelIterable: select_related, annotations, prefetch_related all work).

    _claimed = CompiledQuery(lambda v: GenerationJob.objects.select_related("brand")
                             .filter(pk__in=v.ids, started_at=v.started_at))
    jobs = _claimed.fetch(ids=ids, started_at=now)

`build` receives the values by attribute. On PostgreSQL, at compile time, each is a placeholder
expression: a scalar compiles to one parameter; one given as a list or tuple at run time (an
`__in` filter) compiles to `(SELECT unnest(%s))`, one array parameter, so lists of any length
share one SQL text. Elsewhere (SQLite, the embedded default), and for an empty list, `build`
gets the real values and the queryset runs as usual.
"""

import threading
from types import SimpleNamespace

from django.db import connections
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL


class _Marker:
    """Stands where a run's value goes in the compiled parameters."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name


class _Placeholders:
    def __init__(self, values: dict):
        self._values = values

    def __getattr__(self, name: str) -> RawSQL:
        if name not in self._values:
            raise AttributeError(f"no value named {name!r} given to this query")
        value = self._values[name]
        sql = "SELECT unnest(%s)" if isinstance(value, (list, tuple)) else "%s"
        return RawSQL(sql, (_Marker(name),))  # noqa: S611 - constant SQL, value as a parameter


class _Compiled:
    def __init__(self, queryset: QuerySet, using: str):
        compiler = queryset.query.get_compiler(using=using)
        self.sql, params = compiler.as_sql()
        self.params = tuple(params)
        self.slots = [(index, param.name) for index, param in enumerate(params)
                      if isinstance(param, _Marker)]
        self.queryset = queryset
        self.compiler_class = type(compiler)
        self.state = {name: getattr(compiler, name) for name in (
            "select", "klass_info", "annotation_col_map", "col_count", "has_extra_select")}
        self.converters = compiler.get_converters(
            [column[0] for column in compiler.select[:compiler.col_count]])

    def queryset_for(self, values: dict, using: str) -> QuerySet:
        params = list(self.params)
        for index, name in self.slots:
            value = values[name]
            params[index] = list(value) if isinstance(value, tuple) else value

        def get_compiler(using=None, connection=None, elide_empty=True):
            compiler = self.compiler_class(query, connection or connections[using], using,
                                           elide_empty)
            compiler.__dict__.update(self.state)
            compiler.as_sql = lambda *args, **kwargs: (self.sql, params)
            compiler.get_converters = lambda expressions: self.converters
            return compiler

        queryset = self.queryset.using(using)
        query = queryset.query
        query.get_compiler = get_compiler
        return queryset


class CompiledQuery:
    """A queryset built by `build(values)`, compiled once per process and database."""

    def __init__(self, build):
        self._build = build
        self._compiled: dict = {}
        self._lock = threading.Lock()

    def fetch(self, *, using: str = "default", **values) -> list:
        """The query's instances for these values."""
        connection = connections[using]
        if connection.vendor != "postgresql" or any(
                isinstance(value, (list, tuple)) and not value for value in values.values()):
            # An empty list has no array type PostgreSQL could infer; Django knows what an
            # empty `__in` means where it stands.
            return list(self._build(SimpleNamespace(**values)).using(using))
        key = (using, tuple(sorted((name, isinstance(value, (list, tuple)))
                                   for name, value in values.items())))
        compiled = self._compiled.get(key)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(key)
                if compiled is None:
                    compiled = _Compiled(self._build(_Placeholders(values)).using(using), using)
                    self._compiled[key] = compiled
        return list(compiled.queryset_for(values, using))
