# RevMan 5's random-effects model of a Mantel-Haenszel analysis, built from metafor 3.8's parts:
# DerSimonian-Laird tau² from the heterogeneity statistic of the Mantel-Haenszel fit (rma.mh's QE: Cochran's Q
# about the MH estimate with inverse-variance weights), then inverse-variance pooling at that tau² (rma with
# tau2 fixed) and a Wald interval. R's meta computes the same with metabin(method = "MH", method.tau = "DL",
# Q.Cochrane = TRUE). Cells: 0.5 added to every cell of a study with a zero cell, for its own estimate and
# inside Mantel-Haenszel (RevMan 5; the revman5 preset); studies without events in either arm left out.
#
# Run from the repository root:  Rscript tests/reference/revman_mh_random_reference.R
# Writes tests/reference/revman_mh_random.json.
suppressMessages({
  library(metafor)
  library(jsonlite)
})

fit <- function(name, dat, measure) {
  mh <- rma.mh(measure = measure, ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat,
               add = c(0.5, 0.5), to = c("only0", "only0"), drop00 = c(TRUE, TRUE))
  es <- escalc(measure = measure, ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat,
               add = 0.5, to = "only0", drop00 = TRUE)
  ok <- !is.na(es$yi)
  k <- sum(ok)
  w <- 1 / es$vi[ok]
  tau2 <- max(0, (mh$QE - (k - 1)) / (sum(w) - sum(w^2) / sum(w)))
  re <- rma(yi, vi, data = es, tau2 = tau2, method = "DL", test = "z")
  pred <- predict(re)
  weights_all <- rep(NA_real_, nrow(dat))
  weights_all[ok] <- weights(re)
  list(
    name = name,
    measure = measure,
    ai = dat$ai, n1i = dat$n1i, ci = dat$ci, n2i = dat$n2i,
    q_mh = mh$QE,
    q_df = k - 1,
    tau2 = tau2,
    estimate = as.numeric(re$b),
    se = re$se,
    ci_low = re$ci.lb,
    ci_high = re$ci.ub,
    z = re$zval,
    p = re$pval,
    i2 = max(0, 100 * (mh$QE - (k - 1)) / mh$QE),
    pi_low = pred$pi.lb,
    pi_high = pred$pi.ub,
    weights = weights_all
  )
}

data(dat.egger2001, package = "metadat")
data(dat.nielweise2007, package = "metadat")
# Aspirin after myocardial infarction (Fleiss 1993), as in tests/fixtures/revman/Fleiss1993.rm5, in its order:
# MRC-1, CDP, MRC-2, GASP, PARIS, AMIS, ISIS-2.
fleiss <- data.frame(
  ai = c(49, 44, 102, 32, 85, 246, 1570), n1i = c(615, 758, 832, 317, 810, 2267, 8587),
  ci = c(67, 64, 126, 38, 52, 219, 1720), n2i = c(624, 771, 850, 309, 406, 2257, 8600)
)
out <- list(
  metafor_version = as.character(packageVersion("metafor")),
  cases = list(
    fit("egger2001-or", dat.egger2001, "OR"),
    fit("egger2001-rr", dat.egger2001, "RR"),
    fit("egger2001-rd", dat.egger2001, "RD"),
    fit("nielweise2007-or", dat.nielweise2007, "OR"),
    fit("nielweise2007-rr", dat.nielweise2007, "RR"),
    fit("fleiss1993-or", fleiss, "OR")
  )
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"),
           "tests/reference/revman_mh_random.json")
