#include "cxr/assistant/evaluation_report.h"

#include <QBuffer>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QFont>
#include <QJsonArray>
#include <QJsonDocument>
#include <QPageSize>
#include <QPainter>
#include <QPdfWriter>
#include <QSaveFile>
#include <QTextDocument>
#include <QUrl>
#include <cmath>

namespace cxr::assistant {
namespace {

QJsonValue number(double v) { return std::isfinite(v) ? QJsonValue(v) : QJsonValue(QJsonValue::Null); }
QJsonArray pair(const Interval& i) { return {number(i.low), number(i.high)}; }
QString fixed(double v, int digits = 3) { return std::isfinite(v) ? QString::number(v, 'f', digits) : QStringLiteral("n/a"); }
// A value over its interval, for the narrow columns of a printed table.
QString stacked(double v, const Interval& i) {
  return QStringLiteral("%1<br><small>%2&ndash;%3</small>").arg(fixed(v), fixed(i.low), fixed(i.high));
}
QString esc(const QString& s) { return s.toHtmlEscaped(); }

const char* const kOverlapNote =
    "text-overlap metrics: they count words shared with the reference report, not whether the findings agree";
const char* const kBlankNote = "blank (not mentioned) predictions and labels count as negative";

}  // namespace

QJsonObject metricsJson(const Evaluation& ev) {
  const EvaluationMetrics& m = ev.metrics;
  QJsonObject root;
  root[QStringLiteral("uncertain")] = uncertainPolicyName(m.policy);
  root[QStringLiteral("convention")] = conventionText(m.policy);
  root[QStringLiteral("blank")] = QString::fromLatin1(kBlankNote);
  root[QStringLiteral("task")] = ev.options.task;
  root[QStringLiteral("predictions")] = ev.options.predictionsPath;
  root[QStringLiteral("labels")] = ev.options.labelsPath;
  QJsonObject findings;
  for (const FindingMetrics& f : m.findings) {
    QJsonObject o;
    o[QStringLiteral("support")] = f.support;
    o[QStringLiteral("evaluated")] = f.evaluated;
    o[QStringLiteral("ignored")] = f.ignored;
    o[QStringLiteral("precision")] = number(f.scores.precision);
    o[QStringLiteral("recall")] = number(f.scores.recall);
    o[QStringLiteral("f1")] = number(f.scores.f1);
    o[QStringLiteral("specificity")] = number(f.scores.specificity);
    o[QStringLiteral("ci95")] = QJsonObject{{QStringLiteral("precision"), pair(f.ciPrecision)},
                                            {QStringLiteral("recall"), pair(f.ciRecall)},
                                            {QStringLiteral("f1"), pair(f.ciF1)},
                                            {QStringLiteral("specificity"), pair(f.ciSpecificity)}};
    o[QStringLiteral("confusion")] = QJsonObject{{QStringLiteral("tp"), f.confusion.tp},
                                                 {QStringLiteral("fp"), f.confusion.fp},
                                                 {QStringLiteral("fn"), f.confusion.fn},
                                                 {QStringLiteral("tn"), f.confusion.tn}};
    findings[f.name] = o;
  }
  root[QStringLiteral("findings")] = findings;
  root[QStringLiteral("macro_f1")] = number(m.macroF1);
  root[QStringLiteral("micro_f1")] = number(m.microF1);
  root[QStringLiteral("macro_f1_ci95")] = pair(m.ciMacroF1);
  root[QStringLiteral("micro_f1_ci95")] = pair(m.ciMicroF1);
  root[QStringLiteral("bootstrap")] = QJsonObject{{QStringLiteral("samples"), m.bootstrapSamples},
                                                  {QStringLiteral("seed"), QString::number(m.seed)},
                                                  {QStringLiteral("method"), QStringLiteral("percentile, items resampled with replacement")}};
  root[QStringLiteral("matched")] = m.matched;
  root[QStringLiteral("prediction_items")] = ev.predictionItems;
  root[QStringLiteral("label_items")] = ev.labelItems;
  root[QStringLiteral("unmatched_predictions")] = ev.unmatchedPredictions;
  root[QStringLiteral("unmatched_labels")] = ev.unmatchedLabels;
  root[QStringLiteral("unmatched_prediction_ids")] = QJsonArray::fromStringList(ev.unmatchedPredictionIds);
  root[QStringLiteral("unmatched_label_ids")] = QJsonArray::fromStringList(ev.unmatchedLabelIds);
  root[QStringLiteral("control_items_excluded")] = ev.controlItemsInPredictions;
  root[QStringLiteral("other_task_items")] = ev.otherTaskItems;
  if (ev.overlap) {
    const TextOverlapSummary& t = *ev.overlap;
    QJsonArray precisions;
    for (double p : t.bleu.precisions) precisions.append(p);
    root[QStringLiteral("text_overlap")] =
        QJsonObject{{QStringLiteral("note"), QString::fromLatin1(kOverlapNote)},
                    {QStringLiteral("pairs"), t.pairs},
                    {QStringLiteral("bleu4"), number(t.bleu.bleu)},
                    {QStringLiteral("bleu_precisions"), precisions},
                    {QStringLiteral("brevity_penalty"), number(t.bleu.brevityPenalty)},
                    {QStringLiteral("hypothesis_tokens"), t.bleu.hypothesisLength},
                    {QStringLiteral("reference_tokens"), t.bleu.referenceLength},
                    {QStringLiteral("rouge_l"), number(t.meanRougeL)}};
    QJsonObject agreement;
    for (const LabelAgreement& a : ev.agreement)
      agreement[a.name] = QJsonObject{{QStringLiteral("compared"), a.compared},
                                      {QStringLiteral("agreement"), number(a.agreement)},
                                      {QStringLiteral("cohen_kappa"), number(a.kappa)}};
    root[QStringLiteral("label_agreement")] = QJsonObject{
        {QStringLiteral("note"), QStringLiteral("generated reports' findings vs the reference reports labelled by the same "
                                                "rules; agreement: same value of four (present/absent/uncertain/not "
                                                "mentioned); kappa: Cohen's, on the binary labels")},
        {QStringLiteral("findings"), agreement}};
  }
  if (ev.control) {
    const ControlSummary& c = *ev.control;
    QJsonArray rows;
    for (const ControlRow& r : c.rows) {
      QJsonObject positive, rate;
      for (int f = 0; f < kLabelFindingCount; ++f) {
        const QString name = chexpertColumnNames()[f];
        positive[name] = r.positives[size_t(f)];
        rate[name] = r.items > 0 ? double(r.positives[size_t(f)]) / double(r.items) : 0.0;
      }
      rows.append(QJsonObject{{QStringLiteral("kind"), r.kind},
                              {QStringLiteral("items"), r.items},
                              {QStringLiteral("positive"), positive},
                              {QStringLiteral("positive_rate"), rate}});
    }
    root[QStringLiteral("control")] = QJsonObject{{QStringLiteral("source"), c.path},
                                                  {QStringLiteral("rows"), rows},
                                                  {QStringLiteral("generated"), c.generated},
                                                  {QStringLiteral("near_identical"), c.nearIdentical},
                                                  {QStringLiteral("rouge_l_threshold"), c.threshold}};
  }
  return root;
}

QString metricsCsv(const Evaluation& ev) {
  const EvaluationMetrics& m = ev.metrics;
  const QString policy = uncertainPolicyName(m.policy);
  QString out = csvRecord({QStringLiteral("finding"), QStringLiteral("uncertain"), QStringLiteral("support"),
                           QStringLiteral("evaluated"), QStringLiteral("ignored"), QStringLiteral("tp"),
                           QStringLiteral("fp"), QStringLiteral("fn"), QStringLiteral("tn"),
                           QStringLiteral("precision"), QStringLiteral("precision_ci_low"), QStringLiteral("precision_ci_high"),
                           QStringLiteral("recall"), QStringLiteral("recall_ci_low"), QStringLiteral("recall_ci_high"),
                           QStringLiteral("f1"), QStringLiteral("f1_ci_low"), QStringLiteral("f1_ci_high"),
                           QStringLiteral("specificity"), QStringLiteral("specificity_ci_low"),
                           QStringLiteral("specificity_ci_high")});
  auto num = [](double v) { return std::isfinite(v) ? QString::number(v, 'g', 17) : QString(); };
  for (const FindingMetrics& f : m.findings)
    out += csvRecord({f.name, policy, QString::number(f.support), QString::number(f.evaluated),
                      QString::number(f.ignored), QString::number(f.confusion.tp), QString::number(f.confusion.fp),
                      QString::number(f.confusion.fn), QString::number(f.confusion.tn), num(f.scores.precision),
                      num(f.ciPrecision.low), num(f.ciPrecision.high), num(f.scores.recall), num(f.ciRecall.low),
                      num(f.ciRecall.high), num(f.scores.f1), num(f.ciF1.low), num(f.ciF1.high),
                      num(f.scores.specificity), num(f.ciSpecificity.low), num(f.ciSpecificity.high)});
  QStringList macro = {QStringLiteral("macro"), policy};
  QStringList micro = {QStringLiteral("micro"), policy};
  for (int i = 0; i < 13; ++i) macro.push_back(QString()), micro.push_back(QString());
  macro += {num(m.macroF1), num(m.ciMacroF1.low), num(m.ciMacroF1.high), QString(), QString(), QString()};
  micro += {num(m.microF1), num(m.ciMicroF1.low), num(m.ciMicroF1.high), QString(), QString(), QString()};
  out += csvRecord(macro);
  out += csvRecord(micro);
  return out;
}

QImage f1Chart(const EvaluationMetrics& metrics, const QSize& size) {
  QImage image(size, QImage::Format_RGB32);
  image.fill(Qt::white);
  QPainter p(&image);
  p.setRenderHint(QPainter::Antialiasing);
  const int w = size.width(), h = size.height();
  // Room above 1.0 for the value over an interval that reaches the top.
  const QRect plot(w / 10, h / 6, w - w / 10 - w / 40, h - h / 6 - h / 5);
  QFont font(QStringLiteral("DejaVu Sans"));
  font.setPixelSize(std::max(12, h / 30));
  p.setFont(font);
  p.setPen(Qt::black);
  QFont title = font;
  title.setPixelSize(std::max(14, h / 24));
  title.setBold(true);
  p.setFont(title);
  p.drawText(QRect(0, 0, w, h / 9), Qt::AlignCenter,
             QStringLiteral("F1 per finding with 95 % bootstrap interval (uncertain: %1)")
                 .arg(uncertainPolicyName(metrics.policy)));
  p.setFont(font);
  // Axis and grid: 0.0 .. 1.0 in steps of 0.2.
  for (int k = 0; k <= 5; ++k) {
    const double v = k / 5.0;
    const int y = plot.bottom() - int(std::lround(v * plot.height()));
    p.setPen(QPen(QColor(200, 200, 200), 1, k == 0 ? Qt::SolidLine : Qt::DashLine));
    p.drawLine(plot.left(), y, plot.right(), y);
    p.setPen(Qt::black);
    p.drawText(QRect(0, y - h / 30, plot.left() - w / 100, h / 15), Qt::AlignRight | Qt::AlignVCenter,
               QString::number(v, 'f', 1));
  }
  p.drawLine(plot.bottomLeft(), plot.topLeft());
  const int n = int(metrics.findings.size());
  if (n == 0) return image;
  const double slot = double(plot.width()) / n;
  auto yOf = [&](double v) { return plot.bottom() - v * plot.height(); };
  for (int i = 0; i < n; ++i) {
    const FindingMetrics& f = metrics.findings[i];
    const double x0 = plot.left() + slot * i + slot * 0.2, bw = slot * 0.6;
    const QRectF bar(x0, yOf(f.scores.f1), bw, plot.bottom() - yOf(f.scores.f1));
    p.setPen(QPen(Qt::black, 2));
    p.setBrush(QColor(110, 140, 190));
    p.drawRect(bar);
    // The interval: a vertical line with caps.
    const double cx = x0 + bw / 2, cap = bw / 6;
    const bool hasInterval = std::isfinite(f.ciF1.low) && std::isfinite(f.ciF1.high);
    if (hasInterval) {
      p.setPen(QPen(Qt::black, 3));
      p.drawLine(QPointF(cx, yOf(f.ciF1.low)), QPointF(cx, yOf(f.ciF1.high)));
      p.drawLine(QPointF(cx - cap, yOf(f.ciF1.low)), QPointF(cx + cap, yOf(f.ciF1.low)));
      p.drawLine(QPointF(cx - cap, yOf(f.ciF1.high)), QPointF(cx + cap, yOf(f.ciF1.high)));
    }
    p.setPen(Qt::black);
    const double top = hasInterval ? std::max(f.scores.f1, f.ciF1.high) : f.scores.f1;
    const QRectF valueBox(plot.left() + slot * i, yOf(top) - h / 18.0, slot, h / 20.0);
    p.drawText(valueBox, Qt::AlignCenter, fixed(f.scores.f1, 2));
    const QRectF labelBox(plot.left() + slot * i, plot.bottom() + h / 60.0, slot, h / 9.0);
    p.drawText(labelBox, Qt::AlignHCenter | Qt::AlignTop | Qt::TextWordWrap,
               QStringLiteral("%1\n(n+ = %2)").arg(f.name).arg(f.support));
  }
  return image;
}

QString reportHtml(const Evaluation& ev, const QString& chartSource) {
  const EvaluationMetrics& m = ev.metrics;
  QString h;
  h += QStringLiteral("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>CXR Assistant evaluation</title>"
                      "<style>body{font-family:'DejaVu Sans',sans-serif;color:#000;background:#fff;max-width:60em}"
                      "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #000;padding:3px 6px;"
                      "text-align:right}th{background:#e8e8e8}td.name,th.name{text-align:left}</style></head><body>\n");
  h += QStringLiteral("<h1>Findings evaluation</h1>\n");
  h += QStringLiteral("<p><b>Convention:</b> uncertain = <b>%1</b>: %2</p>\n")
           .arg(uncertainPolicyName(m.policy), esc(conventionText(m.policy)));
  h += QStringLiteral("<p>Predictions: %1 (task %2)<br>Labels: %3<br>Matched items: %4; predictions without a label: "
                      "%5; labels without a prediction: %6; control items left out: %7; items of other tasks: %8</p>\n")
           .arg(esc(ev.options.predictionsPath), esc(ev.options.task), esc(ev.options.labelsPath))
           .arg(m.matched)
           .arg(ev.unmatchedPredictions)
           .arg(ev.unmatchedLabels)
           .arg(ev.controlItemsInPredictions)
           .arg(ev.otherTaskItems);
  h += QStringLiteral("<p>95 % intervals: percentile bootstrap, %1 resamples of the items, seed %2.</p>\n")
           .arg(m.bootstrapSamples)
           .arg(m.seed);
  h += QStringLiteral("<h2>Per finding</h2>\n<p>Each value with its 95 % bootstrap interval below it. Support: "
                      "items labelled positive.</p>\n<table width=\"100%\" border=\"1\" cellspacing=\"0\" cellpadding=\"4\">"
                      "<tr><th class=\"name\" width=\"20%\">Finding</th><th>Support</th><th>Precision</th>"
                      "<th>Recall</th><th>F1</th><th>Specificity</th></tr>\n");
  for (const FindingMetrics& f : m.findings)
    h += QStringLiteral("<tr><td class=\"name\">%1</td><td>%2</td><td>%3</td><td>%4</td><td><b>%5</b></td><td>%6</td></tr>\n")
             .arg(esc(f.name) + (f.support == 0 ? QStringLiteral("<br><small>no positive label: recall and F1 "
                                                                  "undefined, shown as 0</small>")
                                                : QString()))
             .arg(f.support)
             .arg(stacked(f.scores.precision, f.ciPrecision), stacked(f.scores.recall, f.ciRecall),
                  stacked(f.scores.f1, f.ciF1), stacked(f.scores.specificity, f.ciSpecificity));
  h += QStringLiteral("<tr><td class=\"name\"><b>Macro F1</b> (mean of the six)</td><td></td><td></td><td></td><td><b>%1</b></td><td></td></tr>\n")
           .arg(stacked(m.macroF1, m.ciMacroF1));
  h += QStringLiteral("<tr><td class=\"name\"><b>Micro F1</b> (pooled counts)</td><td></td><td></td><td></td><td><b>%1</b></td><td></td></tr>\n")
           .arg(stacked(m.microF1, m.ciMicroF1));
  h += QStringLiteral("</table>\n<p><img src=\"%1\" width=\"480\" alt=\"F1 per finding\"></p>\n").arg(chartSource);

  h += QStringLiteral("<h2>Confusion per finding</h2>\n<table border=\"0\" cellspacing=\"6\"><tr>");
  for (int i = 0; i < m.findings.size(); ++i) {
    const FindingMetrics& f = m.findings[i];
    if (i == 3) h += QStringLiteral("</tr><tr>");
    h += QStringLiteral("<td style=\"border:none\"><table border=\"1\" cellspacing=\"0\" cellpadding=\"4\">"
                        "<tr><th colspan=\"3\" class=\"name\">%1<br><small>%2 counted, %3 left out</small></th></tr>"
                        "<tr><th></th><th>label +</th><th>label &minus;</th></tr>"
                        "<tr><th>pred. +</th><td>TP %4</td><td>FP %5</td></tr>"
                        "<tr><th>pred. &minus;</th><td>FN %6</td><td>TN %7</td></tr></table></td>")
             .arg(esc(f.name))
             .arg(f.evaluated)
             .arg(f.ignored)
             .arg(f.confusion.tp)
             .arg(f.confusion.fp)
             .arg(f.confusion.fn)
             .arg(f.confusion.tn);
  }
  h += QStringLiteral("</tr></table>\n");

  if (ev.overlap) {
    const TextOverlapSummary& t = *ev.overlap;
    h += QStringLiteral("<h2>Generated vs reference reports</h2>\n<p><b>Text overlap</b> (%1), over %2 pairs: "
                        "BLEU-4 %3 (n-gram precisions %4, %5, %6, %7; brevity penalty %8); ROUGE-L %9.</p>\n")
             .arg(QString::fromLatin1(kOverlapNote))
             .arg(t.pairs)
             .arg(fixed(t.bleu.bleu, 4), fixed(t.bleu.precisions[0]), fixed(t.bleu.precisions[1]),
                  fixed(t.bleu.precisions[2]), fixed(t.bleu.precisions[3]), fixed(t.bleu.brevityPenalty),
                  fixed(t.meanRougeL, 4));
    h += QStringLiteral("<p><b>Findings agreement</b>: the generated report's findings against the reference report "
                        "labelled by the same rules.</p>\n<table border=\"1\" cellspacing=\"0\" cellpadding=\"4\">"
                        "<tr><th class=\"name\">Finding</th><th>Pairs</th><th>Same value (of 4)</th>"
                        "<th>Cohen's kappa (binary)</th></tr>\n");
    for (const LabelAgreement& a : ev.agreement)
      h += QStringLiteral("<tr><td class=\"name\">%1</td><td>%2</td><td>%3</td><td>%4</td></tr>\n")
               .arg(esc(a.name))
               .arg(a.compared)
               .arg(fixed(a.agreement), fixed(a.kappa));
    h += QStringLiteral("</table>\n");
  }
  if (ev.control) {
    const ControlSummary& c = *ev.control;
    h += QStringLiteral("<h2>Control images (is the model looking at the image?)</h2>\n<p>Source: %1. Fraction of "
                        "reports that call each finding present, for the control images and for this run's images.</p>\n"
                        "<table border=\"1\" cellspacing=\"0\" cellpadding=\"4\"><tr><th class=\"name\">Finding</th>")
             .arg(esc(c.path));
    for (const ControlRow& r : c.rows) h += QStringLiteral("<th>%1<br><small>%2 items</small></th>").arg(esc(r.kind)).arg(r.items);
    h += QStringLiteral("<th>images<br><small>%1 items</small></th></tr>\n").arg(m.matched);
    for (int f = 0; f < kLabelFindingCount && f < m.findings.size(); ++f) {
      h += QStringLiteral("<tr><td class=\"name\">%1</td>").arg(esc(m.findings[f].name));
      for (const ControlRow& r : c.rows)
        h += QStringLiteral("<td>%1</td>").arg(fixed(r.items ? double(r.positives[size_t(f)]) / double(r.items) : 0.0, 2));
      const Confusion& k = m.findings[f].confusion;
      h += QStringLiteral("<td>%1</td></tr>\n").arg(fixed(m.matched ? double(k.tp + k.fp) / double(m.matched) : 0.0, 2));
    }
    h += QStringLiteral("</table>\n<p>Generated reports near-identical to a control report (ROUGE-L &gt; %1): "
                        "<b>%2 of %3</b>.</p>\n")
             .arg(c.threshold)
             .arg(c.nearIdentical)
             .arg(c.generated);
  }
  h += QStringLiteral("</body></html>\n");
  return h;
}

namespace {

QString writeFile(const QString& path, const QByteArray& bytes) {
  QSaveFile file(path);
  if (!file.open(QIODevice::WriteOnly) || file.write(bytes) != bytes.size() || !file.commit())
    return QStringLiteral("%1: cannot write: %2").arg(path, file.errorString());
  return {};
}

}  // namespace

QString writeEvaluationOutputs(const Evaluation& ev, const QString& dirPath) {
  QDir dir(dirPath);
  if (!dir.mkpath(QStringLiteral(".")))
    return QStringLiteral("%1: cannot create the output folder").arg(dirPath);
  QString error = writeFile(dir.filePath(QStringLiteral("metrics.json")),
                            QJsonDocument(metricsJson(ev)).toJson(QJsonDocument::Indented));
  if (error.isEmpty()) error = writeFile(dir.filePath(QStringLiteral("metrics.csv")), metricsCsv(ev).toUtf8());
  if (!error.isEmpty()) return error;

  const QImage chart = f1Chart(ev.metrics);
  QByteArray png;
  QBuffer buffer(&png);
  buffer.open(QIODevice::WriteOnly);
  chart.save(&buffer, "PNG");
  error = writeFile(dir.filePath(QStringLiteral("f1_chart.png")), png);
  if (error.isEmpty())
    error = writeFile(dir.filePath(QStringLiteral("report.html")),
                      reportHtml(ev, QStringLiteral("data:image/png;base64,") + QString::fromLatin1(png.toBase64())).toUtf8());
  if (!error.isEmpty()) return error;

  // The PDF: the same HTML laid out by QTextDocument on A4 pages.
  const QString pdfPath = dir.filePath(QStringLiteral("report.pdf"));
  QFile::remove(pdfPath);
  {
    QPdfWriter writer(pdfPath);
    writer.setPageSize(QPageSize(QPageSize::A4));
    writer.setPageMargins(QMarginsF(15, 15, 15, 15), QPageLayout::Millimeter);
    writer.setTitle(QStringLiteral("CXR Assistant findings evaluation"));
    writer.setCreator(QStringLiteral("cxr-batch eval"));
    QTextDocument doc;
    QFont font(QStringLiteral("DejaVu Sans"));
    font.setPointSizeF(9);
    // No ligatures: "Effusion" stays searchable and copyable as typed (pdftotext, screen readers).
    font.setStyleStrategy(QFont::PreferNoShaping);
    doc.setDefaultFont(font);
    doc.addResource(QTextDocument::ImageResource, QUrl(QStringLiteral("cxr://f1chart")), chart);
    doc.setHtml(reportHtml(ev, QStringLiteral("cxr://f1chart")));
    doc.print(&writer);
  }
  if (QFileInfo(pdfPath).size() <= 0) return QStringLiteral("%1: cannot write the PDF").arg(pdfPath);
  return {};
}

}  // namespace cxr::assistant
