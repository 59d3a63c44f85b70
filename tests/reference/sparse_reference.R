# Reference values from metafor for sparse binary data: tests/stats/test_sparse_alignment.py and
# tests/analysis/test_double_zero.py.
#
# What it pins:
#   * rma.mh with metafor's defaults (add = c(1/2, 0), to = c("only0", "none"), drop00 = c(TRUE, FALSE)):
#     studies with no events (or only events) in both arms stay in the Mantel-Haenszel sums of the risk ratio
#     and the risk difference; their own estimates are left out of Q (drop00[1] = TRUE). The odds ratio is
#     pinned too, for contrast (a double-zero table adds nothing to its sums), and the same fits with
#     drop00 = c(TRUE, TRUE), the rule the builder used before version 1.2 of a review (and RevMan's rule for
#     risk ratios).
#   * the inverse-variance risk difference on escalc's defaults (add = 1/2, to = "only0", drop00 = FALSE: the
#     double-zero studies are kept and corrected like any zero-cell study), fixed effect and REML with the
#     Knapp-Hartung interval.
#   * Sweeting, Sutton and Lambert's (2004) treatment-arm continuity correction, which metafor does not offer:
#     computed here by hand (see tacc_cells) and then pooled by escalc/rma and by rma.mh with no further
#     correction.
#   * the MSC survival data of this review (data/studies/*.yaml, dataset "published"), with and without the two
#     studies the integrity rules of version 1.2 leave out, so that a test can check the 1.2 draft's
#     sensitivity rows against metafor.
#
# Data: metadat's dat.axfors2021 (Axfors et al. 2021, hydroxychloroquine or chloroquine vs control in COVID-19,
# mortality; 33 comparisons, 15 with no deaths in either arm and 6 with none in one arm, arms often unequal).
# Deaths are the event; a second variant takes survivors as the event, which turns those 15 studies into
# "only events in both arms", the kind of double-zero study that changes a Mantel-Haenszel risk ratio.
#
# How to rerun (from the repository root; needs R with metafor, metadat and jsonlite):
#     Rscript tests/reference/sparse_reference.R
#
# Last run with metafor 3.8.1, metadat 1.2.0 and jsonlite 1.8.4 on R 4.2.2; the versions used are also written
# into the JSON ("generator"). REML is run far tighter than metafor's default, as in the other scripts.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

out_file <- file.path("tests", "reference", "sparse.json")
if (!dir.exists(dirname(out_file))) {
  stop("run from the repository root: Rscript tests/reference/sparse_reference.R")
}

REML_CONTROL <- list(threshold = 1e-12, maxiter = 1000, stepadj = 0.5)

# ---------------------------------------------------------------------------------------------- datasets

d <- dat.axfors2021
axfors_deaths <- list(
  study = paste0(seq_len(nrow(d)), "-", d$acronym),  # acronyms repeat (two arms of one trial)
  ai = d$hcq_arm_event, n1i = d$hcq_arm_total, ci = d$control_arm_event, n2i = d$control_arm_total
)
axfors_survivors <- within(axfors_deaths, {
  ai <- n1i - ai
  ci <- n2i - ci
})

# Overall survival (event: alive at the end of follow-up), MSC vs control, as the study files of this review
# give it (dataset "published"): shu-2020, lanzoni-2021, feng-g-2021, leng-2020, meng-2020, feng-y-2020,
# adas-2021, bowdish-2023. Version 1.2 leaves out feng-g-2021 (a cohort Shu 2020 already counts) and
# feng-y-2020 (a virtual control arm).
msc_all <- list(
  study = c("shu-2020", "lanzoni-2021", "feng-g-2021", "leng-2020", "meng-2020", "feng-y-2020", "adas-2021",
            "bowdish-2023"),
  ai = c(12, 11, 8, 7, 9, 15, 7, 70), n1i = c(12, 12, 8, 7, 9, 16, 10, 112),
  ci = c(26, 5, 20, 2, 9, 9, 14, 63), n2i = c(29, 12, 20, 3, 9, 16, 20, 110)
)
keep_12 <- !(msc_all$study %in% c("feng-g-2021", "feng-y-2020"))
msc_12 <- lapply(msc_all, function(x) x[keep_12])

inputs_of <- function(x) list(study = x$study, ai = x$ai, n1i = x$n1i, ci = x$ci, n2i = x$n2i)

# ------------------------------------------------------------------------------------------------- fits

num <- function(x) if (is.null(x) || length(x) == 0) NULL else as.numeric(x)

summary_of <- function(fit) {
  list(
    beta = num(fit$beta), se = num(fit$se), ci_lb = num(fit$ci.lb), ci_ub = num(fit$ci.ub),
    zval = num(fit$zval), pval = num(fit$pval), QE = num(fit$QE), QEp = num(fit$QEp), I2 = num(fit$I2),
    tau2 = num(fit$tau2), k = fit$k, k_yi = if (is.null(fit$k.yi)) NULL else fit$k.yi,
    weights = num(weights(fit))
  )
}

mh <- function(x, measure, drop00) {
  fit <- rma.mh(measure = measure, ai = x$ai, n1i = x$n1i, ci = x$ci, n2i = x$n2i, drop00 = drop00)
  c(summary_of(fit), list(measure = measure, drop00 = drop00))
}

# Per-study estimates as escalc gives them (NA where a study is left out), with the fits on them.
iv <- function(x, measure, drop00) {
  es <- escalc(measure = measure, ai = x$ai, n1i = x$n1i, ci = x$ci, n2i = x$n2i, drop00 = drop00)
  fixed <- rma(yi, vi, data = es, method = "EE")
  reml <- rma(yi, vi, data = es, method = "REML", test = "knha", control = REML_CONTROL)
  list(measure = measure, drop00 = drop00, yi = num(es$yi), vi = num(es$vi),
       fixed = summary_of(fixed), reml = summary_of(reml))
}

# Sweeting et al.'s treatment-arm continuity correction, by hand. In a study with a zero cell (but not one with
# no events or only events in both arms, which a ratio cannot use), each cell of the experimental arm gets
# k1 = n1 / (n1 + n2) and each cell of the control arm k2 = n2 / (n1 + n2): with R = n2 / n1 the paper's
# 1 / (R + 1) and R / (R + 1). Each arm's correction is proportional to the reciprocal of the size of the
# other arm (k1 / k2 = (1 / n2) / (1 / n1)) and the two add up to 1, like the usual 0.5 + 0.5, to which they
# reduce when the arms are equal. escalc then gets the corrected (non-integer) cells with add = 0, so that it
# adds nothing more.
tacc_cells <- function(x) {
  bi <- x$n1i - x$ai
  di <- x$n2i - x$ci
  double <- (x$ai == 0 & x$ci == 0) | (bi == 0 & di == 0)
  zero <- pmin(x$ai, bi, x$ci, di) == 0 & !double
  k1 <- ifelse(zero, x$n1i / (x$n1i + x$n2i), 0)
  k2 <- ifelse(zero, x$n2i / (x$n1i + x$n2i), 0)
  list(ai = ifelse(double, NA, x$ai + k1), bi = ifelse(double, NA, bi + k1),
       ci = ifelse(double, NA, x$ci + k2), di = ifelse(double, NA, di + k2), k1 = k1, k2 = k2)
}

tacc <- function(x, measure) {
  cells <- tacc_cells(x)
  es <- suppressWarnings(escalc(measure = measure, ai = cells$ai, bi = cells$bi, ci = cells$ci, di = cells$di,
                                add = 0, to = "none"))
  reml <- rma(yi, vi, data = es, method = "REML", test = "knha", control = REML_CONTROL)
  # Inside a Mantel-Haenszel estimate too (where an analysis corrects there, as RevMan 5 does with 0.5): the same
  # corrected cells, nothing more added, the left-out studies (NA) dropped.
  mh <- suppressWarnings(rma.mh(measure = measure, ai = cells$ai, bi = cells$bi, ci = cells$ci, di = cells$di,
                                add = c(0, 0), to = c("none", "none"), drop00 = c(TRUE, TRUE)))
  list(measure = measure, k1 = num(cells$k1), k2 = num(cells$k2), yi = num(es$yi), vi = num(es$vi),
       reml = summary_of(reml), mh = summary_of(mh))
}

cases <- function(x) {
  list(
    inputs = inputs_of(x),
    mh = list(
      RR = mh(x, "RR", c(TRUE, FALSE)), RD = mh(x, "RD", c(TRUE, FALSE)), OR = mh(x, "OR", c(TRUE, FALSE)),
      RR_drop = mh(x, "RR", c(TRUE, TRUE)), RD_drop = mh(x, "RD", c(TRUE, TRUE))
    ),
    iv_rd = iv(x, "RD", FALSE),
    iv_rd_drop = iv(x, "RD", TRUE),
    tacc = list(OR = tacc(x, "OR"), RR = tacc(x, "RR"))
  )
}

reference <- list(
  generator = list(
    script = "tests/reference/sparse_reference.R",
    R = R.version.string,
    metafor = as.character(packageVersion("metafor")),
    metadat = as.character(packageVersion("metadat")),
    jsonlite = as.character(packageVersion("jsonlite")),
    reml_control = REML_CONTROL
  ),
  datasets = list(
    axfors2021_deaths = suppressWarnings(cases(axfors_deaths)),
    axfors2021_survivors = suppressWarnings(cases(axfors_survivors)),
    msc_survival_all = suppressWarnings(cases(msc_all)),
    msc_survival_v1_2 = suppressWarnings(cases(msc_12))
  )
)

writeLines(toJSON(reference, auto_unbox = TRUE, pretty = TRUE, digits = NA, na = "null", null = "null"),
           out_file)
cat("wrote", out_file, "\n")
