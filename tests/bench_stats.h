/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bench_stats.h - paired measurements and their bootstrap intervals, for
 * tests/bench.c's figures.
 *
 * A figure that compares two configurations measures them as pairs: both
 * in the same round of one loop, so that a shared machine's drift hits
 * both alike, and the order of the configurations in a round rotated and
 * reversed from round to round, so that none always comes first, or
 * always after the same other (bench_rounds()). The figure is
 * then a statistic of the per-pair differences (or ratios): their median,
 * with a percentile bootstrap interval (resample the pairs with
 * replacement, take the median of each resample, read the percentiles of
 * those medians) from a fixed seed, so that a run gives the same interval
 * for the same samples.
 *
 * A target "value <= limit" (or ">=") is met when the whole interval is
 * within the limit, missed when the whole interval is outside it, and
 * inconclusive otherwise: more pairs, or a quieter machine, would say
 * (struct bench_target, bench_verdict()). An A/A comparison (the same
 * configuration twice in each round) checks the method: its interval
 * must hold 1 (a ratio) or 0 (a difference).
 *
 *	double t[NCONF][MAX_ROUNDS];
 *	struct bench_interval iv;
 *
 *	bench_rounds(NCONF, rounds, sample, &ctx, t[0], MAX_ROUNDS);
 *	bench_paired(t[A], t[B], rounds, BENCH_PAIR_DIFF, 1 / L, &iv);
 *	printf("%g [%g, %g] %s\n", iv.value, iv.lo, iv.hi,
 *	       bench_verdict_name(bench_verdict_le(&iv, 1.3)));
 */
#ifndef BENCH_STATS_H
#define BENCH_STATS_H

#include <stdint.h>
#include <stdlib.h>

#define BENCH_RESAMPLES		2000
#define BENCH_SEED		0x68626d6d20313700ULL	/* fixed: "hbmm 17" */
#define BENCH_CONFIDENCE	0.95
#define BENCH_MAX_PAIRS		255

/* What a pair gives: b - a, or b / a (a = the reference of the pair). */
enum bench_pair_kind { BENCH_PAIR_DIFF, BENCH_PAIR_RATIO };

/* A median and its bootstrap interval. */
struct bench_interval {
	double value;	/* median over the pairs */
	double lo;	/* percentile bootstrap, BENCH_CONFIDENCE */
	double hi;
	int pairs;
	int resamples;
};

enum bench_verdict { BENCH_MET, BENCH_MISSED, BENCH_INCONCLUSIVE };

/* splitmix64: the same sequence from a seed on every libc. */
static inline uint64_t bench_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median of @v[0..n), which it sorts. */
static inline double bench_median(double *v, int n)
{
	qsort(v, n, sizeof(*v), bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The @q quantile of sorted @v[0..n), linear between neighbours. */
static inline double bench_quantile(const double *v, int n, double q)
{
	double pos = q * (n - 1);
	int i = (int)pos;

	if (i >= n - 1)
		return v[n - 1];
	return v[i] + (pos - i) * (v[i + 1] - v[i]);
}

/*
 * Run @nconf configurations in @rounds rounds: sample(c, r, arg) measures
 * configuration c once, in round r, and its result goes to
 * out[c * stride + r]. The samples of one round are pairs. The order of a
 * round is rotated by one every other round and reversed every other
 * round (0 1 2, 2 1 0, 1 2 0, 0 2 1, ...): over 2 x nconf rounds every
 * configuration runs in every position, and after each of its two
 * neighbours, equally often. A plain reversal would not do beyond two:
 * the middle one of three would always run in the middle, right after
 * another, and an A/A pair of it and an end one would be biased.
 */
static inline void bench_rounds(int nconf, int rounds,
				double (*sample)(int conf, int round, void *arg),
				void *arg, double *out, int stride)
{
	for (int r = 0; r < rounds; r++)
		for (int k = 0; k < nconf; k++) {
			int pos = r & 1 ? nconf - 1 - k : k;
			int c = (pos + r / 2) % nconf;

			out[c * stride + r] = sample(c, r, arg);
		}
}

/*
 * The median over @n pairs of (b[i] - a[i]) * scale, or b[i] / a[i] *
 * scale, with its percentile bootstrap interval (BENCH_RESAMPLES
 * resamples of the pairs from BENCH_SEED). Returns 0, or -1 if @n is not
 * 1 to BENCH_MAX_PAIRS or the resamples do not fit in memory.
 */
static inline int bench_paired(const double *a, const double *b, int n,
			       enum bench_pair_kind kind, double scale,
			       struct bench_interval *iv)
{
	double per[BENCH_MAX_PAIRS], pick[BENCH_MAX_PAIRS], *meds;
	uint64_t state = BENCH_SEED;
	double tail = (1 - BENCH_CONFIDENCE) / 2;

	if (n < 1 || n > BENCH_MAX_PAIRS)
		return -1;
	meds = malloc(BENCH_RESAMPLES * sizeof(*meds));
	if (!meds)
		return -1;
	for (int i = 0; i < n; i++)
		per[i] = (kind == BENCH_PAIR_DIFF ? b[i] - a[i] : b[i] / a[i]) *
			 scale;
	for (int s = 0; s < BENCH_RESAMPLES; s++) {
		for (int i = 0; i < n; i++)
			pick[i] = per[bench_rand(&state) % n];
		meds[s] = bench_median(pick, n);
	}
	qsort(meds, BENCH_RESAMPLES, sizeof(*meds), bench_cmp_double);
	iv->lo = bench_quantile(meds, BENCH_RESAMPLES, tail);
	iv->hi = bench_quantile(meds, BENCH_RESAMPLES, 1 - tail);
	iv->value = bench_median(per, n);
	iv->pairs = n;
	iv->resamples = BENCH_RESAMPLES;
	free(meds);
	return 0;
}

/* A target value <= @limit against the interval. */
static inline enum bench_verdict
bench_verdict_le(const struct bench_interval *iv, double limit)
{
	if (iv->hi <= limit)
		return BENCH_MET;
	if (iv->lo > limit)
		return BENCH_MISSED;
	return BENCH_INCONCLUSIVE;
}

/* A target value >= @limit against the interval. */
static inline enum bench_verdict
bench_verdict_ge(const struct bench_interval *iv, double limit)
{
	if (iv->lo >= limit)
		return BENCH_MET;
	if (iv->hi < limit)
		return BENCH_MISSED;
	return BENCH_INCONCLUSIVE;
}

/*
 * A target: the figure <= @limit (or >= with @higher). With a @floor (a
 * target ">= 1.5, its interval's lower bound >= 1.0"), met is also the
 * median clearing @limit while the whole interval clears @floor; missed
 * stays the whole interval short of @limit.
 */
struct bench_target {
	double limit;
	int higher;
	double floor;		/* 0: none */
	const char *name;	/* what it says, for the report */
};

static inline enum bench_verdict
bench_verdict(const struct bench_interval *iv, const struct bench_target *t)
{
	enum bench_verdict v = t->higher ? bench_verdict_ge(iv, t->limit) :
					   bench_verdict_le(iv, t->limit);

	if (v != BENCH_INCONCLUSIVE || !t->floor)
		return v;
	if (t->higher ? iv->value >= t->limit && iv->lo >= t->floor :
			iv->value <= t->limit && iv->hi <= t->floor)
		return BENCH_MET;
	return BENCH_INCONCLUSIVE;
}

/* Whether the interval holds @v (an A/A comparison's must hold 1 or 0). */
static inline int bench_interval_holds(const struct bench_interval *iv,
				       double v)
{
	return iv->lo <= v && v <= iv->hi;
}

static inline const char *bench_verdict_name(enum bench_verdict v)
{
	switch (v) {
	case BENCH_MET:
		return "met";
	case BENCH_MISSED:
		return "missed";
	default:
		return "inconclusive";
	}
}

#endif /* BENCH_STATS_H */
