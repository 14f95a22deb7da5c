"""Hierarchy analysis (paper Sec. 6, Table 2, App. D-E): do sub-ordinate concepts share experts
with their super-ordinate concept?

For a domain with super-ordinate s and sub-ordinates t_1..t_k the overlap is
    100 * |E(s) ∩ ⋂_i E(t_i)| / |⋂_i E(t_i)|        (percent; 0 when ⋂_i E(t_i) is empty)
Two randomised baselines (paper Sec. 6):
  baseline 1: s with k sub-ordinates drawn at random from the sub-ordinates of all domains;
  baseline 2: s with the sub-ordinates of a randomly chosen domain.
Empty sets follow the project's one rule (an empty set gives 0, flagged, never NaN): the
overlap is 0 with empty_intersection True when the sub-ordinates share no expert, and the
pairwise overlap of two empty sets is 0.
As in the paper, a draw may hit the correct sub-ordinates (its footnote 1); `exclude_own=True`
forbids that. Expert sets are boolean unit masks; the domain and baseline loops work on
bit-packed masks (8 units per byte) so that thousands of draws over 1.66M units stay cheap.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from expertalign.similarity import concept_index, jaccard_matrix
from expertalign.stats import permutation_pvalue

log = logging.getLogger(__name__)

HIERARCHY_COLUMNS = ("domain", "role", "concept")
BASELINES = ("baseline1", "baseline2")

#: Number of set bits in each byte value, for counting units in bit-packed masks.
_POPCOUNT = np.array([bin(value).count("1") for value in range(256)], dtype=np.int64)


@dataclass(frozen=True)
class Domain:
    """One hierarchy domain: its name, super-ordinate concept and sub-ordinate concepts."""

    name: str
    super_concept: str
    sub_concepts: tuple[str, ...]


def parse_domains(hierarchy: pd.DataFrame) -> list[Domain]:
    """Domains of a hierarchy table (columns domain, role in {super, sub}, concept), in table order.

    ValueError when a column is missing, a role is unknown, or a domain does not have exactly
    one super-ordinate and at least one sub-ordinate.
    """
    missing = [column for column in HIERARCHY_COLUMNS if column not in hierarchy.columns]
    if missing:
        raise ValueError(f"hierarchy table lacks column(s) {missing}")
    bad_roles = sorted(set(hierarchy["role"]) - {"super", "sub"})
    if bad_roles:
        raise ValueError(f"hierarchy table has unknown role(s) {bad_roles}; expected super or sub")
    domains = []
    for name, rows in hierarchy.groupby("domain", sort=False):
        supers = rows.loc[rows["role"] == "super", "concept"].tolist()
        subs = tuple(rows.loc[rows["role"] == "sub", "concept"])
        if len(supers) != 1 or not subs:
            raise ValueError(
                f"domain {name!r} needs one super-ordinate and >= 1 sub-ordinate, "
                f"has {len(supers)} and {len(subs)}"
            )
        domains.append(Domain(str(name), supers[0], subs))
    return domains


def _count(packed: np.ndarray) -> int:
    """Number of units in a bit-packed set [n_bytes] uint8."""
    return int(_POPCOUNT[packed].sum())


def _overlap_packed(super_set: np.ndarray, sub_sets: np.ndarray) -> tuple[float, bool]:
    """hierarchy_overlap on bit-packed sets: super_set [n_bytes], sub_sets [k, n_bytes] uint8."""
    shared = np.bitwise_and.reduce(sub_sets, axis=0)
    n_shared = _count(shared)
    if n_shared == 0:
        return 0.0, True
    return 100.0 * _count(shared & super_set) / n_shared, False


def hierarchy_overlap(super_set: np.ndarray, sub_sets: np.ndarray) -> tuple[float, bool]:
    """Percent of the experts shared by all sub-ordinates that are also experts of the super-ordinate.

    super_set: [n_units] bool, E(super). sub_sets: [k, n_units] bool, E(sub_i) per row.
    Returns (100 * |E(super) ∩ ⋂ E(sub_i)| / |⋂ E(sub_i)|, empty_intersection); an empty
    intersection gives (0.0, True).
    """
    super_set = np.asarray(super_set, dtype=bool)
    sub_sets = np.atleast_2d(np.asarray(sub_sets, dtype=bool))
    if sub_sets.shape[1] != super_set.shape[0] or sub_sets.shape[0] == 0:
        raise ValueError(f"sub_sets {sub_sets.shape} must be [k >= 1, {super_set.shape[0]}]")
    return _overlap_packed(np.packbits(super_set), np.packbits(sub_sets, axis=1))


class _PackedSets:
    """Bit-packed expert sets of the hierarchy concepts, looked up by concept id."""

    def __init__(self, mask: np.ndarray, concepts: Sequence[str], domains: list[Domain]):
        mask = np.asarray(mask, dtype=bool)
        if mask.ndim != 2 or mask.shape[0] != len(concepts):
            raise ValueError(f"mask shape {mask.shape} does not match {len(concepts)} concepts")
        index = concept_index(concepts)
        needed = list(dict.fromkeys(c for d in domains for c in (d.super_concept, *d.sub_concepts)))
        absent = [c for c in needed if c not in index]
        if absent:
            raise ValueError(f"hierarchy concept(s) without scores: {absent}")
        self.row = {concept: i for i, concept in enumerate(needed)}
        self.packed = np.packbits(mask[[index[c] for c in needed]], axis=1)

    def overlap(self, super_concept: str, sub_concepts: Sequence[str]) -> tuple[float, bool]:
        return _overlap_packed(
            self.packed[self.row[super_concept]], self.packed[[self.row[c] for c in sub_concepts]]
        )


def domain_overlaps(mask: np.ndarray, concepts: Sequence[str], hierarchy: pd.DataFrame) -> pd.DataFrame:
    """Real overlap of every domain.

    mask: [n_concepts, n_units] bool expert sets, rows in `concepts` order; every hierarchy
    concept must be present. Returns DataFrame[domain, overlap (percent), empty_intersection].
    """
    domains = parse_domains(hierarchy)
    sets = _PackedSets(mask, concepts, domains)
    rows = [(d.name, *sets.overlap(d.super_concept, d.sub_concepts)) for d in domains]
    return pd.DataFrame(rows, columns=["domain", "overlap", "empty_intersection"])


def _check_iterations(iterations: int) -> None:
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")


def baseline1(
    mask: np.ndarray,
    concepts: Sequence[str],
    hierarchy: pd.DataFrame,
    iterations: int,
    seed: int | np.random.SeedSequence,
    exclude_own: bool = False,
) -> pd.DataFrame:
    """Baseline 1: each super-ordinate with k random sub-ordinates (k = its own count).

    The k are drawn without replacement from the sub-ordinates of all domains (only the other
    domains' when exclude_own) in each of `iterations` draws from np.random.default_rng(seed).
    Returns DataFrame[domain, baseline1]: the mean overlap (percent) over draws.
    """
    _check_iterations(iterations)
    domains = parse_domains(hierarchy)
    sets = _PackedSets(mask, concepts, domains)
    rng = np.random.default_rng(seed)
    means = []
    for domain in domains:
        candidates = [c for d in domains if not (exclude_own and d == domain) for c in d.sub_concepts]
        draws = [
            rng.choice(candidates, size=len(domain.sub_concepts), replace=False) for _ in range(iterations)
        ]
        means.append(np.mean([sets.overlap(domain.super_concept, subs)[0] for subs in draws]))
    return pd.DataFrame({"domain": [d.name for d in domains], "baseline1": means})


def baseline2(
    mask: np.ndarray,
    concepts: Sequence[str],
    hierarchy: pd.DataFrame,
    iterations: int,
    seed: int | np.random.SeedSequence,
    exclude_own: bool = False,
) -> pd.DataFrame:
    """Baseline 2: each super-ordinate with the sub-ordinates of a randomly chosen domain.

    The domain is drawn uniformly from all domains (from the others when exclude_own; then at
    least two domains are needed) in each of `iterations` draws from np.random.default_rng(seed).
    Returns DataFrame[domain, baseline2]: the mean overlap (percent) over draws.
    """
    _check_iterations(iterations)
    domains = parse_domains(hierarchy)
    if exclude_own and len(domains) < 2:
        raise ValueError("baseline2 with exclude_own needs at least two domains")
    sets = _PackedSets(mask, concepts, domains)
    rng = np.random.default_rng(seed)
    means = []
    for domain in domains:
        candidates = [d for d in domains if not (exclude_own and d == domain)]
        draws = rng.integers(0, len(candidates), size=iterations)
        means.append(
            np.mean([sets.overlap(domain.super_concept, candidates[i].sub_concepts)[0] for i in draws])
        )
    return pd.DataFrame({"domain": [d.name for d in domains], "baseline2": means})


def hierarchy_table(
    mask: np.ndarray,
    concepts: Sequence[str],
    hierarchy: pd.DataFrame,
    iterations: int,
    seed: int,
    exclude_own: bool = False,
) -> pd.DataFrame:
    """Table 2 of the paper: DataFrame[domain, overlap, empty_intersection, baseline1, baseline2].

    Overlaps are percentages; the baselines are means over `iterations` draws, seeded with two
    independent streams spawned from `seed`.
    """
    seed1, seed2 = np.random.SeedSequence(seed).spawn(2)
    table = domain_overlaps(mask, concepts, hierarchy)
    table = table.merge(baseline1(mask, concepts, hierarchy, iterations, seed1, exclude_own), on="domain")
    return table.merge(baseline2(mask, concepts, hierarchy, iterations, seed2, exclude_own), on="domain")


def hierarchy_tests(table: pd.DataFrame, n_resamples: int, seed: int) -> pd.DataFrame:
    """Permutation test of the real per-domain overlaps against each baseline's per-domain means.

    table: hierarchy_table's output (one row per domain). Two-sample, two-sided test of the
    difference of means (expertalign.stats.permutation_pvalue). Returns
    DataFrame[baseline, mean_real, mean_baseline, statistic, p_value], one row per baseline.
    """
    missing = [c for c in ("overlap", *BASELINES) if c not in table.columns]
    if missing:
        raise ValueError(f"hierarchy table lacks column(s) {missing}")
    rows = []
    for baseline in BASELINES:
        test = permutation_pvalue(table["overlap"], table[baseline], n_resamples, seed)
        rows.append(
            {
                "baseline": baseline,
                "mean_real": float(table["overlap"].mean()),
                "mean_baseline": float(table[baseline].mean()),
                **test,
            }
        )
    return pd.DataFrame(rows, columns=["baseline", "mean_real", "mean_baseline", "statistic", "p_value"])


def pairwise_overlap(mask: np.ndarray, concepts: Sequence[str], hierarchy: pd.DataFrame) -> pd.DataFrame:
    """Expert overlap of every ordered pair of hierarchy concepts, for the heatmaps (Fig. 4).

    Overlap = 100 * Jaccard(E(a), E(b)) (percent of the union; 0 when both sets are empty).
    All ordered pairs, the diagonal included, in hierarchy-table order (domain by domain, the
    super-ordinate first), so that a pivot gives the heatmap directly. Returns
    DataFrame[concept_a, concept_b, domain_a, domain_b, overlap].
    """
    domains = parse_domains(hierarchy)
    members = [(c, d.name) for d in domains for c in (d.super_concept, *d.sub_concepts)]
    index = concept_index(concepts)
    absent = [c for c, _ in members if c not in index]
    if absent:
        raise ValueError(f"hierarchy concept(s) without scores: {absent}")
    mask = np.asarray(mask, dtype=bool)
    overlap = 100.0 * jaccard_matrix(mask[[index[c] for c, _ in members]])
    n = len(members)
    names = np.array([c for c, _ in members], dtype=object)
    domain_names = np.array([d for _, d in members], dtype=object)
    return pd.DataFrame(
        {
            "concept_a": np.repeat(names, n),
            "concept_b": np.tile(names, n),
            "domain_a": np.repeat(domain_names, n),
            "domain_b": np.tile(domain_names, n),
            "overlap": overlap.ravel(),
        }
    )
