// Export of a report or a whole conversation as plain text, Markdown or PDF.
//
// One ExportDocument feeds all three formats so they cannot disagree. Anonymised by default:
// patient name, ID and every date (birth, study, export time) appear only when the user opts in.
// The PDF is laid out by QTextDocument (Unicode text shaping, page breaks) and written by
// QPdfWriter, with the image as displayed and its window values printed under it.
#pragma once

#include "cxr/assistant/findings.h"
#include "cxr/assistant/history.h"
#include "cxr/assistant/transcript.h"

#include <QDateTime>
#include <QImage>
#include <QString>

namespace cxr::assistant {

// Identifying fields: printed only when ExportDocument::includeIdentifying is set.
struct PatientFields {
  QString name, id, birthDate, studyDate;
  bool isEmpty() const { return name.isEmpty() && id.isEmpty() && birthDate.isEmpty() && studyDate.isEmpty(); }
};

struct ExportDocument {
  enum class Scope { Report, Conversation };
  Scope scope = Scope::Conversation;
  QString title = QStringLiteral("Chest radiograph: AI assistant output");
  QImage image;         // the image as displayed (8-bit)
  QString windowText;   // e.g. "default window: center 2048, width 4096"
  QString imageDescription;  // non-identifying, e.g. "CR, PA"
  ImageProvenance imageSource;  // file path and sha256 (the file name itself may identify: see below)
  QList<TranscriptEntry> entries;  // finished entries (streaming ones are printed as "incomplete")
  QList<FindingResult> findings;   // from the report text
  ModelIdentity model;
  QString systemPrompt;
  QString appVersion = QStringLiteral(CXR_VERSION_STRING);
  bool includeIdentifying = false;
  PatientFields patient;
  QDateTime exportedAt = QDateTime::currentDateTimeUtc();

  // The entries the scope selects: Report = the last report exchange (or the last exchange).
  QList<TranscriptEntry> selectedEntries() const;
};

// Builds the document from the panel's state; the findings come from transcript.reportText().
ExportDocument makeExportDocument(const Transcript& transcript, ExportDocument::Scope scope);

QString toPlainText(const ExportDocument& doc);
QString toMarkdown(const ExportDocument& doc);
QString toHtml(const ExportDocument& doc);  // what the PDF renders
// Write the file completely or not at all (a temporary file renamed at the end: an existing
// export is never left half-written); on failure return false and set *error to a sentence
// naming the file and the reason (a folder at that path, a missing or read-only folder, a full
// disk).
bool writePdf(const ExportDocument& doc, const QString& path, QString* error = nullptr);
bool writeTextFile(const QString& text, const QString& path, QString* error = nullptr);

// Export destinations checked before any work is done (scripted runs check them before loading
// the model): each non-empty path must name a file, not an existing folder, in a folder that exists
// and is writable, and no two destinations may be the same file (one would silently overwrite the
// other). `label` names the destination in the message ("--export-pdf"). Empty when all is well,
// else one sentence naming the option and the path.
struct ExportDestination {
  QString label;
  QString path;
};
QString checkExportDestinations(const QList<ExportDestination>& destinations);

extern const char* const kResearchDisclaimer;

}  // namespace cxr::assistant
