// The outputs of `cxr-batch eval`: metrics.json, metrics.csv, report.html and report.pdf (tables, a
// bar chart of F1 per finding with its 95 % bootstrap interval, a confusion table per finding, text
// overlap, label agreement and the control baseline). Every output states the uncertain convention.
#pragma once

#include <QImage>
#include <QJsonObject>
#include <QString>

#include "cxr/assistant/evaluation.h"

namespace cxr::assistant {

QJsonObject metricsJson(const Evaluation& ev);
// One row per finding plus "macro" and "micro"; every row carries the uncertain convention.
QString metricsCsv(const Evaluation& ev);
// Bars of F1 per finding with the interval as error bars, drawn for print (black on white, large
// type). Needs a QGuiApplication (fonts).
QImage f1Chart(const EvaluationMetrics& metrics, const QSize& size = QSize(1600, 900));
// The report as HTML; the chart is shown from `chartSource` (a data: URL or a resource name).
QString reportHtml(const Evaluation& ev, const QString& chartSource);

// Writes the four files (and f1_chart.png) into `dir`, creating it. Returns an error message naming
// the file that could not be written, or an empty string.
QString writeEvaluationOutputs(const Evaluation& ev, const QString& dir);

}  // namespace cxr::assistant
