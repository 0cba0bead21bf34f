"""The expectation-maximisation loop shared by the model-based consensus methods (pure numpy).

A model supplies its M-step (posteriors -> parameters) and E-step (parameters -> posteriors and the
mean log objective per answer); ``run`` alternates them, plain or accelerated (``squarem``), from
the majority vote or from a stored fit (``aligned`` puts that fit in the order of today's workers).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# Probabilities are kept inside [EPS, 1 - EPS] so their logs stay finite.
EPS = 1e-10


def run(
    initial: Callable[[], np.ndarray],
    m_step: Callable[[np.ndarray], tuple],
    e_step: Callable[[tuple], tuple[np.ndarray, float]],
    *,
    n_answers: int,
    max_iter: int,
    tol: float,
    start: tuple | None = None,
    posterior_tol: float | None = None,
    free: tuple[Callable[[tuple], tuple], Callable[[tuple], tuple]] | None = None,
) -> tuple[np.ndarray, tuple | None, int, bool]:
    """Alternate the steps until the mean log-likelihood per answer moves by at most ``tol`` or, with
    ``posterior_tol``, until no task's posterior moves by more than that. The first posterior comes
    from the parameters ``start`` (a warm start) or else from ``initial()`` (classes x tasks).
    With ``posterior_tol`` and ``free`` (maps from parameters to unconstrained values and back) the
    steps are accelerated (``squarem``). ``iterations`` counts E-steps.
    Returns (posterior (classes x tasks), last parameters, iterations, converged)."""
    if start is not None and n_answers:
        resp, previous = e_step(start)
    else:
        resp, previous = initial(), None
    params = None
    if not n_answers:  # nothing to learn from
        return resp, params, 0, True
    if posterior_tol is not None and free is not None:
        return squarem(resp, m_step, e_step, max_iter, posterior_tol, *free)
    for iteration in range(1, max_iter + 1):
        params = m_step(resp)
        before = resp  # every E-step returns a new array
        resp, loglik = e_step(params)
        if posterior_tol is not None:
            if np.abs(resp - before).max(initial=0.0) <= posterior_tol:
                return resp, params, iteration, True
        elif previous is not None and abs(loglik - previous) <= tol:
            return resp, params, iteration, True
        previous = loglik
    return resp, params, max_iter, False


def squarem(resp, m_step, e_step, max_iter, posterior_tol, to_free, from_free):
    """EM accelerated by squared extrapolation (SQUAREM, Varadhan and Roland 2008, scheme S3).

    With three answers a task the latent class stays uncertain and plain EM creeps: each step removes
    a few percent of the distance to the optimum, so hundreds of steps, and a warm start alone saves
    little, since every new answer moves every worker a little. Each cycle takes two EM steps from
    the current parameters, extrapolates along them (in unconstrained coordinates, so that the jump
    lands on valid parameters), and keeps the jump unless it lowers the likelihood. It converges to
    a fixed point of EM, the one plain EM reaches from the same start but in a fraction of the
    steps. Stops when an EM step moves no posterior by more than ``posterior_tol``.
    """
    theta, steps, max_step = m_step(resp), 0, 1.0
    while steps < max_iter:
        r0, _l0 = e_step(theta)
        theta1 = m_step(r0)
        r1, l1 = e_step(theta1)
        steps += 2
        if np.abs(r1 - r0).max(initial=0.0) <= posterior_tol:
            return r1, theta1, steps, True
        theta2 = m_step(r1)
        f0, f1, f2 = to_free(theta), to_free(theta1), to_free(theta2)
        r = [b - a for a, b in zip(f0, f1, strict=True)]
        v = [c - 2 * b + a for a, b, c in zip(f0, f1, f2, strict=True)]
        norm_r = np.sqrt(sum(float(np.vdot(x, x)) for x in r))
        norm_v = np.sqrt(sum(float(np.vdot(x, x)) for x in v))
        step = min(max(norm_r / norm_v if norm_v > 0 else 1.0, 1.0), max_step)
        jumped = from_free(tuple(a + 2 * step * x + step * step * y for a, x, y in zip(f0, r, v, strict=True)))
        rx, lx = e_step(jumped)
        steps += 1
        if np.isfinite(lx) and lx >= l1:
            theta = m_step(rx)  # the stabilising step of S3
            if step == max_step:
                max_step *= 4
        else:  # the jump overshot: go on from the plain steps, and jump less far from now on
            theta = theta2
            max_step = max(1.0, max_step / 4)
    resp, _loglik = e_step(theta)
    return resp, theta, steps, False


def normalise_log(ll: np.ndarray, shared: float, n_answers: int) -> tuple[np.ndarray, float]:
    """Turn (classes x tasks) joint log-probabilities into posteriors in place; also the mean log-likelihood.

    ``ll`` may leave out a term that is the same under every class of a task: it does not move the
    posterior, and ``shared`` (its sum over all tasks) completes the likelihood.
    """
    top = ll.max(axis=0)
    ll -= top
    np.exp(ll, out=ll)
    norm = ll.sum(axis=0)
    ll /= norm
    return ll, float(((np.log(norm) + top).sum() + shared) / max(n_answers, 1))


def aligned(known_ids, workers, prior, worker_ids: np.ndarray, k: int, cell: tuple[int, ...]
            ) -> tuple[np.ndarray, np.ndarray] | None:
    """A stored fit's per-worker parameters (``workers``, one ``cell`` per id in ``known_ids``) in the
    order of ``worker_ids`` (newcomers get the mean of the known workers'), and its class ``prior``,
    both kept inside [EPS, 1]; None when it knows none of the workers (uniform parameters all round
    would be a fixed point of EM that learns nothing).
    Raises ValueError for parameters of another number of classes than ``k``."""
    known_ids = np.asarray(known_ids).reshape(-1)
    workers = np.asarray(workers, dtype=np.float64).reshape((known_ids.size, *cell))
    prior = np.asarray(prior, dtype=np.float64).reshape(-1)
    if prior.size != k or (cell and cell[0] != k):
        raise ValueError(f"init has {prior.size} classes, the answers {k}")
    if not known_ids.size or not worker_ids.size:
        return None
    order = np.argsort(known_ids, kind="stable")
    pos = np.minimum(np.searchsorted(known_ids, worker_ids, sorter=order), known_ids.size - 1)
    found = known_ids[order[pos]] == worker_ids
    if not found.any():
        return None
    out = np.broadcast_to(workers.mean(axis=0), (worker_ids.size, *cell)).copy()
    out[found] = workers[order[pos[found]]]
    return np.clip(out, EPS, 1.0), np.clip(prior, EPS, 1.0)


def log_normalised(log_p: np.ndarray) -> np.ndarray:
    """Log-probabilities renormalised over the last axis, each kept at or above log(EPS)."""
    top = log_p.max(axis=-1, keepdims=True)
    out = log_p - (np.log(np.exp(log_p - top).sum(axis=-1, keepdims=True)) + top)
    return np.maximum(out, np.log(EPS), out=out)
