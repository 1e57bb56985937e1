// Package eval scores drafted remediation text against the text reviewers
// settled on, with the usual machine-translation and summarisation metrics
// reimplemented to agree with their reference implementations to the last
// decimal:
//
//   - TER as sacrebleu 2.x computes it (TERCOM-compatible), in CorpusTER;
//   - chrF and chrF++ as sacrebleu 2.x, in CorpusChrF;
//   - BLEU as sacrebleu 2.x corpus_bleu and sentence_bleu, in CorpusBLEU
//     and SentenceBLEU;
//   - ROUGE-N, ROUGE-L and ROUGE-Lsum as google-research rouge-score, in
//     RougeN, RougeL, RougeLsum and CorpusRougeL.
//
// CorpusScore runs one metric at its defaults over reference streams, the
// layout of files given on a command line. The metric functions take
// references per segment instead: refs[i] holds the references of
// hyps[i], so segments may have different numbers of references.
//
// Agreement with the Python implementations rests on more than the
// formulas: the tokenizers follow Python's string semantics (what str.split
// counts as whitespace, what str.lower does to İ and a final Σ), sums are
// taken in the same order, and TER breaks ties between alignments and
// between shift candidates as sacrebleu does, including its budget of
// 1,000 shift candidates per segment. The tests hold every metric to the
// upstream test vectors in testdata/.
//
// TER is the expensive metric: each shift candidate needs an edit distance.
// Like sacrebleu, the search reuses the matrix rows of the unchanged
// prefix and keeps to a beam around the diagonal; it also joins each
// candidate's new rows to a backward matrix of the unchanged suffix, so a
// candidate costs only the rows its shift touches. Corpus functions spread
// segments over GOMAXPROCS goroutines; results do not depend on how.
//
// On top of the corpus metrics sits the harness that scores drafts against
// what reviewers shipped. Each per-draft metric is its own function — TER
// (HTER when the final is a review of that very draft), CharEditDistance,
// ShippedUnchanged, ChrF, ChrFPlusPlus, BLEU, RougeLF, Meaning,
// AlignRecommendations with Precision, Recall and Rewritten,
// Prescriptiveness and Grounding — and Score computes all of them for many
// drafts at once, citations stripped first. NewReport aggregates the
// results with percentile-bootstrap intervals, overall and per drafter,
// model, prompt version, kind, tenant, ATT&CK tactic and month, and writes
// them as JSON, Markdown and a self-contained HTML page with SVG charts.
// Compare pairs two reports on the drafts they share and checks gates.
package eval
