# Reference values from metafor for tests/stats/test_followups_alignment.py.
#
# What it does: on published data sets from metadat that no other reference script uses, fits the models the
# engine offers (REML with z and Knapp-Hartung inference, and the fixed-effect model) and records, for each
# fit: the case diagnostics of influence() (rstudent, dffits, cook.d, cov.r, tau2.del, QE.del, hat, weight,
# dfbetas and the "*" flags), the coordinates baujat() plots, trimfill() with the L0 and R0 estimators (k0, its
# SE, the side, the filled studies and the refitted estimate with its CI), Begg's rank correlation test
# (ranktest) and, for 2x2 data, Harbord's test and Peters' test. It writes the inputs and the results to
# tests/reference/followups.json, so the Python tests need no R.
#
# How to rerun (from the repository root; needs R with metafor, metadat and jsonlite):
#     Rscript tests/reference/followups_reference.R
#
# Last run with metafor 3.8.1, metadat 1.2.0 and jsonlite 1.8.4 on R 4.2.2 Patched; the versions actually
# used are also written into the JSON ("generator").
#
# Definitions:
#   Harbord et al. (2006): Z / sqrt(V) regressed on sqrt(V) by ordinary least squares, Z = O - E and V the score
#     and its variance of each 2x2 table as observed (no continuity correction: a single zero cell still gives
#     V > 0; escalc's PETO default would add 0.5); the test is on the intercept. It is recorded twice: from that lm()
#     directly, and as metafor computes it, regtest(model = "lm", predictor = "sei") on escalc(measure = "PETO")
#     (the same regression divided through by sqrt(V)), whose limit estimate is the lm's slope.
#   Peters et al. (2006): lm(log OR ~ I(1 / N), weights = S * F / N), N the total sample size, S the events and F
#     the non-events of both arms (as R's meta does for method.bias = "Peters"); the test is on the slope.
#     The log odds ratios are escalc's, 0.5 added to the cells of a study with a zero cell.
#   trimfill() passes its `...` to every rma() it fits, so test= and control= below make the refit of observed
#     plus filled studies use the model's own inference (metafor's default would be z).
#
# REML is run to convergence far tighter than metafor's default (change in tau^2 below 1e-12, half steps).

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

out_file <- file.path("tests", "reference", "followups.json")
if (!dir.exists(dirname(out_file))) {
  stop("run from the repository root: Rscript tests/reference/followups_reference.R")
}

CONTROL <- list(threshold = 1e-12, maxiter = 1000, stepadj = 0.5)

binary <- function(d, study, note) {
  es <- escalc("OR", ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i, drop00 = TRUE)
  list(type = "binary", measure = "OR", note = note,
       inputs = list(study = study, ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i),
       yi = as.numeric(es$yi), vi = as.numeric(es$vi))
}

generic <- function(study, yi, vi, note) {
  list(type = "generic", measure = "GEN", note = note, inputs = list(study = study, yi = yi, vi = vi),
       yi = yi, vi = vi)
}

egger2001 <- metadat::dat.egger2001
lee2004 <- metadat::dat.lee2004
li2007 <- metadat::dat.li2007
bangert <- metadat::dat.bangertdrowns2004

datasets <- list(
  egger2001 = binary(egger2001, as.character(egger2001$study),
    "metadat::dat.egger2001 (intravenous magnesium after myocardial infarction); 16 trials, ISIS-4 among them."),
  lee2004 = binary(lee2004, as.character(lee2004$study),
    "metadat::dat.lee2004 (acupoint P6 stimulation for postoperative nausea); 16 trials."),
  li2007 = binary(li2007, as.character(li2007$study),
    "metadat::dat.li2007 (magnesium for myocardial infarction, a later update); 22 trials."),
  bangertdrowns2004 = generic(paste(bangert$author, bangert$year), as.numeric(bangert$yi), as.numeric(bangert$vi),
    "metadat::dat.bangertdrowns2004 (writing-to-learn interventions, SMDs given); 48 studies.")
)

MODELS <- list(
  list(id = "REML-knha", method = "REML", test = "knha"),
  list(id = "REML-z", method = "REML", test = "z"),
  list(id = "FE", method = "FE", test = "z")
)

num <- function(x) as.numeric(x)

influence_of <- function(fit) {
  inf <- influence(fit)
  list(rstudent = num(inf$inf$rstudent), dffits = num(inf$inf$dffits), cook_d = num(inf$inf$cook.d),
       cov_r = num(inf$inf$cov.r), tau2_del = num(inf$inf$tau2.del), QE_del = num(inf$inf$QE.del),
       hat = num(inf$inf$hat), weight = num(inf$inf$weight), dfbetas = num(inf$dfbs[[1]]),
       inf = as.logical(inf$is.infl))
}

baujat_of <- function(fit) {
  grDevices::pdf(NULL)
  on.exit(grDevices::dev.off())
  b <- baujat(fit)
  list(x = num(b$x), y = num(b$y))
}

trimfill_of <- function(fit, estimator, test) {
  tf <- trimfill(fit, estimator = estimator, test = test, control = CONTROL)
  list(estimator = estimator, k0 = tf$k0, se_k0 = num(tf$se.k0), side = tf$side,
       p_k0 = if (is.na(tf$p.k0)) NULL else num(tf$p.k0),
       estimate = num(tf$beta), se = num(tf$se), ci_lb = num(tf$ci.lb), ci_ub = num(tf$ci.ub),
       tau2 = num(tf$tau2), k = tf$k,
       yi_filled = I(num(tf$yi[tf$fill])), vi_filled = I(num(tf$vi[tf$fill])))
}

ranktest_of <- function(fit) {
  rt <- ranktest(fit)
  wi <- 1 / fit$vi
  vb <- 1 / sum(wi)
  deviates <- (fit$yi - sum(wi * fit$yi) / sum(wi)) / sqrt(fit$vi - vb)
  list(tau = num(rt$tau), p = num(rt$pval), ties = any(duplicated(deviates)) || any(duplicated(fit$vi)))
}

lm_coefs <- function(m, term) {
  s <- summary(m)$coefficients
  ci <- confint(m, level = 0.95)
  list(estimate = num(s[term, 1]), se = num(s[term, 2]), t = num(s[term, 3]), p = num(s[term, 4]),
       ci_lb = num(ci[term, 1]), ci_ub = num(ci[term, 2]), df = m$df.residual)
}

harbord_of <- function(inputs) {
  peto <- escalc("PETO", ai = inputs$ai, n1i = inputs$n1i, ci = inputs$ci, n2i = inputs$n2i, add = 0, drop00 = TRUE)
  ok <- !is.na(peto$yi)
  V <- 1 / peto$vi[ok]
  Z <- peto$yi[ok] * V
  direct <- lm(I(Z / sqrt(V)) ~ sqrt(V))
  rt <- regtest(peto$yi[ok], peto$vi[ok], model = "lm", predictor = "sei")
  list(k = sum(ok), intercept = lm_coefs(direct, "(Intercept)"), slope = lm_coefs(direct, "sqrt(V)"),
       regtest = list(zval = num(rt$zval), pval = num(rt$pval), dfs = rt$dfs, est = num(rt$est),
                      ci_lb = num(rt$ci.lb), ci_ub = num(rt$ci.ub)))
}

peters_of <- function(d) {
  inputs <- d$inputs
  ok <- !is.na(d$yi)
  n <- (inputs$n1i + inputs$n2i)[ok]
  s <- (inputs$ai + inputs$ci)[ok]
  yi <- d$yi[ok]
  w <- s * (n - s) / n
  m <- lm(yi ~ I(1 / n), weights = w)
  list(k = sum(ok), slope = lm_coefs(m, "I(1/n)"), intercept = lm_coefs(m, "(Intercept)"))
}

cases <- list()
for (name in names(datasets)) {
  d <- datasets[[name]]
  ok <- !is.na(d$yi)
  for (m in MODELS) {
    fit <- rma(d$yi[ok], d$vi[ok], method = m$method, test = m$test, control = CONTROL)
    case <- list(
      dataset = name, model = m$id, method = m$method, test = m$test, k = fit$k,
      fit = list(estimate = num(fit$beta), se = num(fit$se), tau2 = num(fit$tau2), QE = num(fit$QE)),
      influence = influence_of(fit),
      baujat = baujat_of(fit),
      trimfill = list(L0 = trimfill_of(fit, "L0", m$test), R0 = trimfill_of(fit, "R0", m$test)),
      ranktest = ranktest_of(fit)
    )
    cases[[length(cases) + 1]] <- case
  }
  if (d$type == "binary") {
    datasets[[name]]$harbord <- harbord_of(d$inputs)
    datasets[[name]]$peters <- peters_of(d)
  }
}

generator <- list(
  R = R.version.string,
  metafor = as.character(packageVersion("metafor")),
  metadat = as.character(packageVersion("metadat")),
  jsonlite = as.character(packageVersion("jsonlite")),
  script = "tests/reference/followups_reference.R"
)

writeLines(
  toJSON(list(generator = generator, control = CONTROL, datasets = datasets, cases = cases),
         auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null", na = "null"),
  out_file
)
cat("wrote", out_file, "\n")
