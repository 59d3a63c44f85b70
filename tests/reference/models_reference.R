# Reference values from metafor for tests/stats/test_models_alignment.py.
#
# What it does: on a fixed set of datasets, fits the random-effects model with every tau^2 estimator the Python
# engine (builder/stats) offers -- DL, HE, SJ, ML, REML, EB, PM -- under z, Knapp-Hartung (test="knha") and
# ad hoc Knapp-Hartung (test="adhoc") inference, with the Q-profile confidence intervals for tau^2, I^2 and H^2
# (confint, type "QP"); and the follow-up analyses on a fit: leave1out, cumul, subgroup fits with the test for
# subgroup differences, and Egger's regression test (regtest). It writes the inputs and the results to
# tests/reference/models.json, so the Python tests need no R.
#
# How to rerun (from the repository root; needs R with metafor, metadat and jsonlite):
#     Rscript tests/reference/models_reference.R
#
# Last run with metafor 3.8.1, metadat 1.2.0 and jsonlite 1.8.4 on R 4.2.2 Patched (2022-11-10 r83330);
# the versions actually used are also written into the JSON ("generator").
#
# Iterative computations are run to convergence far tighter than metafor's defaults, so that the tests can
# compare tightly:
#   ML, REML, EB: Fisher scoring stops when the change in tau^2 is below `threshold` (default 1e-5); we use
#         1e-12, with half steps (stepadj = 0.5) for stability and up to 1000 iterations.
#   PM:   uniroot() on the generalised Q statistic with absolute tolerance `tol` (default
#         .Machine$double.eps^0.25, about 1.2e-4); we use 1e-14, which leaves uniroot at machine precision.
#   confint (Q-profile): the same uniroot tolerance, 1e-14, over a wider search range (see CONFINT_CONTROL).
# leave1out, cumul and regtest refit with the control settings of the model they are called on.
#
# The subgroup test is computed as RevMan and R's meta do, from the subgroup estimates and their standard
# errors: each subgroup is fitted with rma(), then rma(yi = estimates, sei = ses, method = "FE") gives Q between
# subgroups (its QE), df = G - 1, p and I^2.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

out_file <- file.path("tests", "reference", "models.json")
if (!dir.exists(dirname(out_file))) {
  stop("run from the repository root: Rscript tests/reference/models_reference.R")
}

FS_CONTROL <- list(threshold = 1e-12, maxiter = 1000, stepadj = 0.5)   # Fisher scoring: ML, REML, EB
PM_CONTROL <- list(tol = 1e-14, maxiter = 1000)
# confint() searches for the tau^2 limits in [0, tau2.max], by default max(100, 10 * tau^2-hat), and reports a limit
# beyond that as tau2.max marked ">". Our engine always finds the actual root, so the reference widens the search
# range far beyond any limit in these datasets (the tests check that no limit is marked ">").
CONFINT_CONTROL <- list(tol = 1e-14, maxiter = 1000, tau2.max = 1e8)
TAU2_METHODS <- c("DL", "HE", "SJ", "ML", "REML", "EB", "PM")
TESTS <- c("z", "knha", "adhoc")
LEVEL <- 95

# ---------------------------------------------------------------------------------------------- datasets

binary <- function(study, ai, n1i, ci, n2i, note) {
  list(type = "binary", measure = "OR", note = note,
       inputs = list(study = study, ai = ai, n1i = n1i, ci = ci, n2i = n2i))
}

continuous <- function(study, m1i, sd1i, n1i, m2i, sd2i, n2i, note) {
  list(type = "continuous", measure = "MD", note = note,
       inputs = list(study = study, m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i))
}

generic <- function(study, yi, vi, note) {
  list(type = "generic", measure = "GEN", note = note, inputs = list(study = study, yi = yi, vi = vi))
}

bcg <- metadat::dat.bcg
normand <- metadat::dat.normand1999
hackshaw <- metadat::dat.hackshaw1998

datasets <- list(
  bcg = c(binary(
    paste(bcg$author, bcg$year),
    ai = bcg$tpos, n1i = bcg$tpos + bcg$tneg, ci = bcg$cpos, n2i = bcg$cpos + bcg$cneg,
    note = "metadat::dat.bcg (BCG vaccine and tuberculosis); 13 trials, strong heterogeneity."),
    list(year = bcg$year, alloc = as.character(bcg$alloc))),
  normand1999 = continuous(
    as.character(normand$source),
    m1i = normand$m1i, sd1i = normand$sd1i, n1i = normand$n1i,
    m2i = normand$m2i, sd2i = normand$sd2i, n2i = normand$n2i,
    note = "metadat::dat.normand1999 (length of hospital stay, specialist vs routine care); tau^2 in the hundreds."),
  homogeneous_md = continuous(
    c("h1", "h2", "h3", "h4", "h5"),
    m1i = c(12.0, 11.5, 13.1, 12.4, 12.2), sd1i = c(4.0, 3.8, 5.0, 4.4, 4.1), n1i = c(40, 35, 50, 28, 45),
    m2i = c(10.0, 9.6, 11.0, 10.6, 10.0), sd2i = c(4.2, 4.1, 4.6, 4.5, 3.9), n2i = c(42, 33, 48, 30, 44),
    note = paste("Designed: mean differences close together relative to their variances, so Q < k - 1:",
                 "tau^2 = 0 for every estimator but SJ (which is never 0 unless all yi are equal), and the",
                 "Q-profile interval for tau^2 is [0, 0] (Q is below even the lower chi-squared quantile).")),
  heterogeneous_md = continuous(
    c("x1", "x2", "x3", "x4", "x5", "x6"),
    m1i = c(21.0, 25.0, 18.0, 28.0, 23.0, 32.0), sd1i = c(3.0, 3.2, 2.8, 3.1, 3.0, 3.3),
    n1i = c(50, 60, 45, 55, 40, 52),
    m2i = c(20.0, 20.0, 20.0, 20.0, 20.0, 20.0), sd2i = c(3.1, 2.9, 3.0, 3.2, 2.9, 3.0),
    n2i = c(50, 58, 47, 53, 42, 50),
    note = "Designed: precise studies with widely spread mean differences (-2 to 12): I^2 about 98.5%, Q = 332 on 5 df."),
  sparse_zero_cells = binary(
    c("s1-zero-treated", "s2-zero-control", "s3-double-zero", "s4", "s5-double-all", "s6"),
    ai = c(0, 2, 0, 3, 12, 1), n1i = c(20, 15, 10, 25, 12, 30),
    ci = c(4, 0, 0, 7, 10, 5), n2i = c(21, 16, 12, 24, 10, 28),
    note = paste("Designed: single zero cells (corrected), a double-zero and a double-all study (not",
                 "estimable: NA in leave1out and cumul); REML and ML tau^2 = 0 although Q > k - 1.")),
  hackshaw1998 = c(generic(
    paste(hackshaw$author, hackshaw$year),
    yi = as.numeric(hackshaw$yi), vi = as.numeric(hackshaw$vi),
    note = "metadat::dat.hackshaw1998 (passive smoking and lung cancer, log OR given); 37 studies."),
    list(design = hackshaw$design)),
  two_studies = binary(
    c("Aronson 1948", "Ferguson & Simes 1949"),
    ai = c(4, 6), n1i = c(123, 306), ci = c(11, 29), n2i = c(139, 303),
    note = "The first two BCG trials: k = 2 (Knapp-Hartung with 1 df; no prediction interval in our engine)."),
  one_study = binary(
    c("Aronson 1948", "double-zero"),
    ai = c(4, 0), n1i = c(123, 50), ci = c(11, 0), n2i = c(139, 48),
    note = paste("One estimable study and one that is not: k = 1. metafor sets tau^2 = 0 and, with a warning,",
                 "test = \"z\" whatever was asked."))
)

# Orders for cumul, as the variable metafor sorts by (order(x), ties in input order); written to the JSON as
# 0-based study indices.
CUMUL_BY <- list(
  bcg = bcg$year,
  normand1999 = rev(seq_len(nrow(normand))),
  sparse_zero_cells = c(2, 4, 1, 6, 3, 5),
  two_studies = c(2, 1)
)
FOLLOWUP_DATASETS <- names(CUMUL_BY)        # leave1out and cumul
SUBGROUPS <- list(bcg = "alloc", hackshaw1998 = "design")
REGTEST_DATASETS <- c("bcg", "hackshaw1998")

# ---------------------------------------------------------------------------------------------- helpers

num <- function(x) if (is.null(x)) NA_real_ else as.numeric(x)

# metafor drops studies whose yi/vi are NA before fitting; put the weights back in input order.
# weights() honours options(na.action): with the default na.omit it returns only the fitted studies.
aligned_weights <- function(fit) {
  fitted <- fit$not.na
  w <- as.numeric(weights(fit))
  if (length(w) != sum(fitted)) stop("unexpected length of weights()")
  out <- rep(NA_real_, length(fitted))
  out[fitted] <- w
  out
}

effect_sizes <- function(d) {
  x <- d$inputs
  if (d$type == "binary") {
    escalc(measure = "OR", ai = x$ai, n1i = x$n1i, ci = x$ci, n2i = x$n2i,
           add = 1/2, to = "only0", drop00 = TRUE)
  } else if (d$type == "continuous") {
    escalc(measure = "MD", m1i = x$m1i, sd1i = x$sd1i, n1i = x$n1i, m2i = x$m2i, sd2i = x$sd2i, n2i = x$n2i)
  } else {
    escalc(measure = "GEN", yi = x$yi, vi = x$vi)
  }
}

control_for <- function(method) {
  if (method %in% c("ML", "REML", "EB")) return(FS_CONTROL)
  if (method == "PM") return(PM_CONTROL)
  list()
}

fit_model <- function(es, method, test, subset = NULL) {
  if (is.null(subset)) subset <- rep(TRUE, nrow(es))
  suppressWarnings(rma(yi, vi, data = es, subset = subset, method = method, test = test, level = LEVEL,
                       control = control_for(method)))
}

heterogeneity_ci <- function(fit) {
  empty <- list(tau2_ci = c(NA_real_, NA_real_), I2_ci = c(NA_real_, NA_real_), H2_ci = c(NA_real_, NA_real_),
                ci_signs = c("", ""), ci_null = NA)
  if (fit$k < 2) return(empty)
  ci <- confint(fit, control = CONFINT_CONTROL)
  r <- ci$random
  list(tau2_ci = as.numeric(r["tau^2", c("ci.lb", "ci.ub")]), I2_ci = as.numeric(r["I^2(%)", c("ci.lb", "ci.ub")]),
       H2_ci = as.numeric(r["H^2", c("ci.lb", "ci.ub")]), ci_signs = c(ci$lb.sign, ci$ub.sign), ci_null = ci$ci.null)
}

summarise <- function(name, dataset, method, test, fit, es) {
  predicted <- predict(fit)
  c(list(
    name = name, dataset = dataset, method = method, test = test, test_used = fit$test,
    k = fit$k, estimate = num(fit$beta), se = num(fit$se), ci_lb = num(fit$ci.lb), ci_ub = num(fit$ci.ub),
    zval = num(fit$zval), pval = num(fit$pval), ddf = if (fit$test == "z") NA_real_ else num(fit$ddf),
    tau2 = num(fit$tau2), QE = num(fit$QE), QEp = num(fit$QEp), I2 = num(fit$I2), H2 = num(fit$H2),
    pi_lb = num(predicted$pi.lb), pi_ub = num(predicted$pi.ub),
    weights = aligned_weights(fit)),
    heterogeneity_ci(fit))
}

# leave1out() and cumul() results as one vector per quantity, NA where a study is not estimable.
ROW_QUANTITIES <- c("estimate", "se", "zval", "pval", "ci.lb", "ci.ub", "Q", "Qp", "tau2", "I2", "H2")

as_columns <- function(res) {
  if (is.null(res$tval) && is.null(res$zval)) stop("no test statistic in the result")
  res$zval <- if (is.null(res$zval)) res$tval else res$zval
  res$pval <- if (is.null(res$pval)) res$pvals else res$pval
  if (is.null(res$tau2)) res$tau2 <- ifelse(is.na(res$estimate), NA_real_, 0)   # FE: metafor leaves tau^2 out
  out <- lapply(ROW_QUANTITIES, function(q) as.numeric(res[[q]]))
  names(out) <- gsub(".", "_", ROW_QUANTITIES, fixed = TRUE)
  out
}

with_na_exclude <- function(expr) {
  old <- options(na.action = "na.exclude")
  on.exit(options(old))
  expr
}

# ---------------------------------------------------------------------------------------------- fits

cases <- list()
leave1out_cases <- list()
cumul_cases <- list()
subgroup_cases <- list()
regtest_cases <- list()

# Every model for the subgroup and regression tests; for leave1out and cumul, which refit the same model on
# subsets (each model itself is checked in `cases`), every estimator under z, DL and REML also under knha and
# adhoc, and the common-effect model: enough to cover the refitting without a reference file of megabytes.
FOLLOWUP_MODELS <- rbind(expand.grid(method = TAU2_METHODS, test = TESTS, stringsAsFactors = FALSE),
                         data.frame(method = "FE", test = "z"))
ROWWISE_MODELS <- subset(FOLLOWUP_MODELS, test == "z" | method %in% c("DL", "REML"))

for (dname in names(datasets)) {
  d <- datasets[[dname]]
  es <- effect_sizes(d)
  datasets[[dname]]$escalc <- list(yi = as.numeric(es$yi), vi = as.numeric(es$vi))

  for (method in TAU2_METHODS) {
    for (test in TESTS) {
      fit <- fit_model(es, method, test)
      cases[[length(cases) + 1]] <- summarise(paste(dname, method, test, sep = "/"), dname, method, test, fit, es)
    }
  }

  for (i in seq_len(nrow(FOLLOWUP_MODELS))) {
    method <- FOLLOWUP_MODELS$method[i]
    test <- FOLLOWUP_MODELS$test[i]
    name <- paste(dname, method, test, sep = "/")

    if (dname %in% FOLLOWUP_DATASETS && any(ROWWISE_MODELS$method == method & ROWWISE_MODELS$test == test)) {
      fit <- fit_model(es, method, test)
      leave1out_cases[[length(leave1out_cases) + 1]] <- c(
        list(name = name, dataset = dname, method = method, test = test),
        as_columns(with_na_exclude(leave1out(fit))))
      by <- CUMUL_BY[[dname]]
      cumul_cases[[length(cumul_cases) + 1]] <- c(
        list(name = name, dataset = dname, method = method, test = test, order = order(by) - 1),
        as_columns(with_na_exclude(cumul(fit, order = by))))
    }

    if (dname %in% names(SUBGROUPS)) {
      groups <- datasets[[dname]][[SUBGROUPS[[dname]]]]
      labels <- unique(groups)
      parts <- lapply(labels, function(g) fit_model(es, method, test, subset = groups == g))
      estimates <- sapply(parts, function(f) num(f$beta))
      ses <- sapply(parts, function(f) num(f$se))
      between <- rma(yi = estimates, sei = ses, method = "FE")
      subgroup_cases[[length(subgroup_cases) + 1]] <- list(
        name = name, dataset = dname, method = method, test = test, by = SUBGROUPS[[dname]],
        labels = labels, k = sapply(parts, function(f) f$k), estimate = estimates, se = ses,
        tau2 = sapply(parts, function(f) num(f$tau2)),
        Q = num(between$QE), df = between$k - 1, Qp = num(between$QEp), I2 = num(between$I2))
    }

    if (dname %in% REGTEST_DATASETS) {
      fit <- fit_model(es, method, test)
      rt <- regtest(fit, model = "rma", predictor = "sei")
      regtest_cases[[length(regtest_cases) + 1]] <- list(
        name = name, dataset = dname, method = method, test = test, k = rt$fit$k,
        zval = num(rt$zval), pval = num(rt$pval), ddf = if (test == "z") NA_real_ else num(rt$ddf),
        beta = as.numeric(rt$fit$beta), se = as.numeric(rt$fit$se), tau2 = num(rt$fit$tau2),
        est = num(rt$est), ci_lb = num(rt$ci.lb), ci_ub = num(rt$ci.ub))
    }
  }
}

reference <- list(
  generator = list(
    script = "tests/reference/models_reference.R",
    metafor = as.character(packageVersion("metafor")),
    metadat = as.character(packageVersion("metadat")),
    jsonlite = as.character(packageVersion("jsonlite")),
    R = R.version.string
  ),
  settings = list(
    escalc_OR = list(add = 1/2, to = "only0", drop00 = TRUE),
    escalc_MD = list(vtype = "LS"),
    fisher_scoring_control = FS_CONTROL,
    pm_control = PM_CONTROL,
    confint_control = CONFINT_CONTROL,
    confint_type = "QP",
    regtest = list(model = "rma", predictor = "sei"),
    tau2_methods = TAU2_METHODS,
    tests = TESTS,
    level = LEVEL
  ),
  datasets = datasets,
  cases = cases,
  leave1out = leave1out_cases,
  cumul = cumul_cases,
  subgroups = subgroup_cases,
  regtest = regtest_cases
)

# digits = NA: jsonlite's maximum precision, 15 significant digits (a relative rounding error below 5e-16,
# far inside every tolerance of the tests).
writeLines(toJSON(reference, auto_unbox = TRUE, pretty = TRUE, digits = NA, na = "null", null = "null"),
           out_file)
cat("wrote", length(cases), "model cases,", length(leave1out_cases), "leave1out,", length(cumul_cases), "cumul,",
    length(subgroup_cases), "subgroup and", length(regtest_cases), "regtest cases on", length(datasets),
    "datasets to", out_file, "\n")
