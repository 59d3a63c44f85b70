# Reference values from metafor for contrast-level data, O - E and variance data and before-after data
# (tests/stats/test_contrast_alignment.py, and the YAML -> results.json tests in tests/publish/test_contrast_data.py).
#
# What it does, on three published data sets from metadat the other references do not use:
#   riley2003 (log hazard ratios of overall survival with their standard errors, MYC-N in neuroblastoma): the
#       first 12 studies as hazard ratios, half given with a 95% CI and half with the SE of the log HR, as a
#       study file would print them; pooled by generic inverse variance, rma(yi, sei = sei) with REML and the
#       Knapp-Hartung interval (test = "knha"), with DerSimonian-Laird and Wald, and with a common-effect model.
#   pignon2000 (O - E and variance of log-rank statistics, chemotherapy in head and neck cancer), group 1 (8
#       trials): Peto's pooled log hazard ratio sum(O - E) / sum(V) with SE 1 / sqrt(sum(V)) and its Q, which
#       is rma(yi = OmE / V, vi = 1 / V, method = "FE"); and the same yi, vi under REML with Knapp-Hartung.
#   lehmann2018, the 12 within-subject experiments (the same participants rated red and control stimuli):
#       paired data as before-after data, with red as "after" and control as "before". escalc(measure = "MC")
#       and escalc(measure = "SMCC") with ri = 0.5 (the builder's default), 0 and 0.8 (the sensitivity panel),
#       each pooled with REML and Knapp-Hartung.
#   hahn2001 (2x2 tables, 12 trials): mixed data. Studies 1, 3, 4 and 6 are given as their odds ratio with a
#       95% CI (from escalc's log odds ratio and its variance) and the others as 2x2 tables; metafor pools the yi
#       and vi of all (escalc with add = 1/2 to zero cells, drop00 = TRUE: the three double-zero trials are not
#       estimable) with REML and Knapp-Hartung, which is what the builder does with a mix of contrast-level and
#       arm-level studies.
#
# Iterative fits are converged far beyond metafor's defaults: Fisher scoring stops when the change in tau^2 is
# below 1e-12 (default 1e-5), with half steps and up to 1000 iterations.
#
# How to rerun (from the repository root; needs R with metafor, metadat and jsonlite):
#     Rscript tests/reference/contrast_reference.R
# The versions used are written into the JSON ("generator").

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(jsonlite)
})

out_file <- file.path("tests", "reference", "contrast.json")
if (!dir.exists(dirname(out_file))) {
  stop("run from the repository root: Rscript tests/reference/contrast_reference.R")
}

CONTROL <- list(threshold = 1e-12, maxiter = 1000, stepadj = 0.5)
Z <- qnorm(0.975)

fit_record <- function(fit) {
  list(
    estimate = as.numeric(fit$b), se = fit$se, ci_low = fit$ci.lb, ci_high = fit$ci.ub, p = fit$pval,
    statistic = fit$zval, tau2 = fit$tau2, q = fit$QE, q_p = fit$QEp, i2 = fit$I2, k = fit$k,
    weights = as.numeric(weights(fit))
  )
}

fits <- function(yi, vi) {
  list(
    "REML/knha" = fit_record(rma(yi = yi, vi = vi, method = "REML", test = "knha", control = CONTROL)),
    "DL/z" = fit_record(rma(yi = yi, vi = vi, method = "DL", test = "z")),
    "FE/z" = fit_record(rma(yi = yi, vi = vi, method = "FE"))
  )
}

# --- generic inverse variance: hazard ratios as printed ---------------------------------------------------------
riley <- dat.riley2003[dat.riley2003$outcome == "OS", ][1:12, ]
with_ci <- seq_len(nrow(riley)) %% 2 == 1  # studies 1, 3, 5, ... print a CI; the others the SE of the log HR
hr <- data.frame(
  study = riley$study,
  estimate = exp(riley$yi),
  ci_low = ifelse(with_ci, exp(riley$yi - Z * riley$sei), NA),
  ci_high = ifelse(with_ci, exp(riley$yi + Z * riley$sei), NA),
  se = ifelse(with_ci, NA, riley$sei)
)
# What the builder must recover: the log HR and its SE, from the SE or from the CI's width on the log scale.
hr_sei <- ifelse(with_ci, (log(hr$ci_high) - log(hr$ci_low)) / (2 * Z), hr$se)
gen <- escalc(measure = "GEN", yi = log(hr$estimate), sei = hr_sei)
hazard <- list(
  dataset = "riley2003, outcome OS, first 12 studies", studies = hr,
  yi = as.numeric(gen$yi), vi = as.numeric(gen$vi),
  fits = fits(gen$yi, gen$vi),
  sei_fit = fit_record(rma(yi = log(hr$estimate), sei = hr_sei, method = "REML", test = "knha", control = CONTROL))
)

# --- Peto: O - E and variance (log hazard ratio) -----------------------------------------------------------------
pig <- dat.pignon2000[dat.pignon2000$grp == 1, ]
peto <- list(
  dataset = "pignon2000, group 1",
  studies = data.frame(trial = pig$trial, o_minus_e = pig$OmE, v = pig$V),
  yi = pig$OmE / pig$V, vi = 1 / pig$V,
  formula = list(estimate = sum(pig$OmE) / sum(pig$V), se = 1 / sqrt(sum(pig$V)),
                 q = sum(pig$OmE^2 / pig$V) - sum(pig$OmE)^2 / sum(pig$V)),
  fits = fits(pig$OmE / pig$V, 1 / pig$V)
)

# --- before-after (paired) data with an assumed correlation --------------------------------------------------------
leh <- dat.lehmann2018[dat.lehmann2018$Design == "Within Subjects", ]
pre_post <- list(
  dataset = "lehmann2018, within-subject experiments",
  studies = data.frame(label = leh$Short_Title, n = leh$Red_N, m_post = leh$Red_M, sd_post = leh$Red_SD,
                       m_pre = leh$Control_M, sd_pre = leh$Control_SD),
  cases = list()
)
for (measure in c("MC", "SMCC")) {
  for (r in c(0.5, 0, 0.8)) {
    es <- escalc(measure = measure, m1i = Red_M, sd1i = Red_SD, m2i = Control_M, sd2i = Control_SD,
                 ni = Red_N, ri = rep(r, nrow(leh)), data = leh)
    pre_post$cases[[length(pre_post$cases) + 1]] <- list(
      measure = measure, r = r, yi = as.numeric(es$yi), vi = as.numeric(es$vi),
      fit = fit_record(rma(yi, vi, data = es, method = "REML", test = "knha", control = CONTROL))
    )
  }
}

# --- mixed: odds ratios as printed for four studies, 2x2 tables for the others --------------------------------------
hahn <- dat.hahn2001
or_es <- escalc(measure = "OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = hahn, add = 1 / 2, to = "only0",
                drop00 = TRUE)
given <- seq_len(nrow(hahn)) %in% c(1, 3, 4, 6)
mixed <- list(
  dataset = "hahn2001",
  studies = data.frame(study = as.character(hahn$study), ai = hahn$ai, n1i = hahn$n1i, ci = hahn$ci, n2i = hahn$n2i,
                       given = given,
                       or = ifelse(given, exp(or_es$yi), NA),
                       ci_low = ifelse(given, exp(or_es$yi - Z * sqrt(or_es$vi)), NA),
                       ci_high = ifelse(given, exp(or_es$yi + Z * sqrt(or_es$vi)), NA)),
  yi = as.numeric(or_es$yi), vi = as.numeric(or_es$vi),
  fit = fit_record(rma(yi, vi, data = or_es, method = "REML", test = "knha", control = CONTROL))
)

out <- list(
  generator = list(
    R = R.version.string, metafor = as.character(packageVersion("metafor")),
    metadat = as.character(packageVersion("metadat")), jsonlite = as.character(packageVersion("jsonlite"))
  ),
  z = Z, hazard = hazard, peto = peto, pre_post = pre_post, mixed = mixed
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = 15, na = "null", pretty = TRUE), out_file)
cat("wrote", out_file, "\n")
