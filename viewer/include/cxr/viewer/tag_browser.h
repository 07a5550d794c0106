// The DICOM tag browser: every element of the file as a tree (sequences -> items -> elements),
// with a search box that filters by tag, name or value and keeps the parents of each match so the
// match is seen in context. In anonymised mode identifying values are masked here too.
#pragma once

#include "cxr/viewer/radiograph.h"

#include <QDialog>
#include <QSortFilterProxyModel>

#include <memory>
#include <vector>

class QLineEdit;
class QStandardItemModel;
class QTreeView;
class QLabel;

namespace cxr::viewer {

enum TagColumn { TagColumnTag = 0, TagColumnName, TagColumnVr, TagColumnValue, TagColumnCount };

// True for elements whose value identifies a person or a visit (names, IDs, dates, institution,
// accession number, instance UIDs), following the spirit of PS3.15's basic profile.
bool isIdentifyingTag(const TagNode& node);

// A tree model over the tags; identifying values replaced by "(hidden: anonymised)" if asked.
std::unique_ptr<QStandardItemModel> buildTagModel(const std::vector<TagNode>& tags, bool anonymised);

// Filters rows whose tag, name, VR or value contains the text (case-insensitive); parents of
// matches stay, and the children of a matching sequence stay too.
class TagFilterModel : public QSortFilterProxyModel {
  Q_OBJECT
 public:
  explicit TagFilterModel(QObject* parent = nullptr);
  void setSearchText(const QString& text);
};

class TagBrowserDialog : public QDialog {
  Q_OBJECT
 public:
  TagBrowserDialog(const RadiographImage& image, bool anonymised, QWidget* parent = nullptr);
  ~TagBrowserDialog() override;
  TagFilterModel* filterModel() const { return filter_; }
  QLineEdit* searchField() const { return search_; }
  QTreeView* treeView() const { return tree_; }

 private:
  std::unique_ptr<QStandardItemModel> model_;
  TagFilterModel* filter_ = nullptr;
  QLineEdit* search_ = nullptr;
  QTreeView* tree_ = nullptr;
  QLabel* count_ = nullptr;
};

}  // namespace cxr::viewer
