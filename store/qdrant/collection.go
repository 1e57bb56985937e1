package qdrant

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hindsightsec/hindsight"
	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Payload fields of a point. tenant, kind and doc_id are the document's key; doc is the same key
// in one field, for grouping and for deletes; seq and section place the chunk in its document.
// techniques, occurred_at and severity mirror the document's fields that searches filter on.
const (
	fieldTenant     = "tenant"
	fieldKind       = "kind"
	fieldDocID      = "doc_id"
	fieldDoc        = "doc"
	fieldSeq        = "seq"
	fieldSection    = "section"
	fieldTechniques = "techniques"
	fieldOccurredAt = "occurred_at"
	fieldSeverity   = "severity"
)

// payloadIndexes are the payload indexes of every collection, by field.
var payloadIndexes = []struct {
	field  string
	typ    qc.FieldType
	schema qc.PayloadSchemaType
	params *qc.PayloadIndexParams
}{
	// is_tenant makes Qdrant store each tenant's points together, so a tenant's searches read
	// little beyond that tenant's data.
	{fieldTenant, qc.FieldType_FieldTypeKeyword, qc.PayloadSchemaType_Keyword,
		qc.NewPayloadIndexParamsKeyword(&qc.KeywordIndexParams{IsTenant: qc.PtrOf(true)})},
	{fieldDoc, qc.FieldType_FieldTypeKeyword, qc.PayloadSchemaType_Keyword, nil},
	{fieldKind, qc.FieldType_FieldTypeKeyword, qc.PayloadSchemaType_Keyword, nil},
	{fieldTechniques, qc.FieldType_FieldTypeKeyword, qc.PayloadSchemaType_Keyword, nil},
	{fieldOccurredAt, qc.FieldType_FieldTypeDatetime, qc.PayloadSchemaType_Datetime, nil},
	{fieldSeverity, qc.FieldType_FieldTypeInteger, qc.PayloadSchemaType_Integer, nil},
	{fieldSection, qc.FieldType_FieldTypeKeyword, qc.PayloadSchemaType_Keyword, nil},
}

// plainSpace matches the spaces whose collection name can be spelled out readably and still
// uniquely: a name and a version without '_', '@' or '/', and a dimension.
var plainSpace = regexp.MustCompile(`^([A-Za-z0-9.-]+)@([A-Za-z0-9.-]+)/([0-9]+)$`)

// collectionName returns the collection of an embedding space (in its Space.String form):
// PREFIX_NAME_VERSION_DIM when that is unambiguous, otherwise the space with every character
// Qdrant may not like replaced, followed by _h and part of the space's SHA-256, so that two
// different spaces never share a collection.
func collectionName(prefix, space string) string {
	if m := plainSpace.FindStringSubmatch(space); m != nil && len(prefix)+len(space) < 200 {
		return prefix + "_" + m[1] + "_" + m[2] + "_" + m[3]
	}
	clean := []byte(space)
	for i, c := range clean {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			clean[i] = '_'
		}
	}
	if len(clean) > 100 {
		clean = clean[:100]
	}
	sum := sha256.Sum256([]byte(space))
	return prefix + "_" + string(clean) + "_h" + hex.EncodeToString(sum[:6])
}

// collection returns the name of the collection of a space.
func (ix *Index) collection(space string) string {
	return collectionName(ix.opts.CollectionPrefix, space)
}

// pointNamespace is the namespace of the UUIDs of points (version 5, from SHA-1).
var pointNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/hindsightsec/hindsight/store/qdrant#point"))

// pointID returns the ID of a chunk's point: the same for the same space, document and position,
// so that writing a document again overwrites its points instead of adding new ones.
func pointID(space string, k hindsight.DocKey, seq int) string {
	// A JSON array keeps the parts apart whatever characters they contain.
	b, _ := json.Marshal([]any{space, k.Tenant, string(k.Kind), k.ID, seq})
	return uuid.NewSHA1(pointNamespace, b).String()
}

// docValue returns the doc payload field of a document: its key as a JSON array, which, unlike
// DocKey.String, cannot be the same for two keys.
func docValue(k hindsight.DocKey) string {
	b, _ := json.Marshal([]string{k.Tenant, string(k.Kind), k.ID})
	return string(b)
}

// filterFields are a document's fields that searches filter on, as points carry them.
type filterFields struct {
	techniques []string // with parents, sorted
	occurredAt string   // "" when unknown
	severity   int64
}

func fieldsOf(d *hindsight.Document) filterFields {
	ts := techniqueKeys(d.Techniques)
	slices.Sort(ts)
	return filterFields{techniques: ts, occurredAt: formatTime(d.OccurredAt), severity: int64(d.Severity.Rank())}
}

func (a filterFields) equal(b filterFields) bool {
	return slices.Equal(a.techniques, b.techniques) && a.occurredAt == b.occurredAt && a.severity == b.severity
}

// payload returns the payload of one chunk's point.
func payload(d *hindsight.Document, c *hindsight.Chunk) map[string]*qc.Value {
	ff := fieldsOf(d)
	p := map[string]*qc.Value{
		fieldTenant:   qc.NewValueString(d.Tenant),
		fieldKind:     qc.NewValueString(string(d.Kind)),
		fieldDocID:    qc.NewValueString(d.ID),
		fieldDoc:      qc.NewValueString(docValue(d.Key())),
		fieldSeq:      qc.NewValueInt(int64(c.Seq)),
		fieldSection:  qc.NewValueString(c.Section),
		fieldSeverity: qc.NewValueInt(ff.severity),
	}
	// Left out when the document has none: a technique or time filter then never matches its
	// points, as the catalog's filters never match a document without techniques or time.
	if len(ff.techniques) > 0 {
		p[fieldTechniques] = stringList(ff.techniques)
	}
	if ff.occurredAt != "" {
		p[fieldOccurredAt] = qc.NewValueString(ff.occurredAt)
	}
	return p
}

func stringList(ss []string) *qc.Value {
	vs := make([]*qc.Value, len(ss))
	for i, s := range ss {
		vs[i] = qc.NewValueString(s)
	}
	return qc.NewValueFromList(vs...)
}

// formatTime renders a time for the occurred_at payload field, or "" for the zero time. Times are
// cut to whole microseconds here and in filters alike, so that both sides compare at the same
// precision whatever precision the server keeps.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
}

// techniqueKeys returns the techniques with each sub-technique's parent added, without duplicates,
// so that a filter on T1059 finds T1059.001.
func techniqueKeys(ts []string) []string {
	seen := make(map[string]bool, len(ts)*2)
	var out []string
	for _, t := range ts {
		for _, k := range []string{t, hindsight.ParentTechnique(t)} {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out
}

// ensureCollection makes sure the collection exists with vectors of dim values and every payload
// index, creating what is missing. It talks to Qdrant once per collection and process; later calls
// return at once.
func (ix *Index) ensureCollection(ctx context.Context, name string, dim int) error {
	ix.mu.Lock()
	ok := ix.ready[name]
	ix.mu.Unlock()
	if ok {
		return nil
	}
	ix.ensureMu.Lock()
	defer ix.ensureMu.Unlock()
	ix.mu.Lock()
	ok = ix.ready[name]
	ix.mu.Unlock()
	if ok {
		return nil
	}

	exists, err := ix.client.CollectionExists(ctx, name)
	if err != nil {
		return ix.qdrantError("collection exists", err)
	}
	if !exists {
		err := ix.client.CreateCollection(ctx, ix.createRequest(name, dim))
		// Another process may have created it since: that is as good.
		if err != nil && status.Code(err) != codes.AlreadyExists {
			return ix.qdrantError("create collection", err)
		}
		if err == nil {
			ix.logger.Info("created qdrant collection", "collection", name, "dim", dim,
				"shards", ix.opts.Shards, "replicas", ix.opts.Replicas, "on_disk", ix.opts.OnDisk, "quantization", ix.opts.Quantization)
		}
	}
	info, err := ix.client.GetCollectionInfo(ctx, name)
	if err != nil {
		return ix.qdrantError("get collection", err)
	}
	params := info.GetConfig().GetParams()
	vp := params.GetVectorsConfig().GetParams()
	if vp == nil || vp.GetSize() != uint64(dim) || vp.GetDistance() != qc.Distance_Cosine {
		return hindsight.Errorf(hindsight.ECONFLICT,
			"qdrant collection %s exists but does not hold one unnamed vector of %d values with cosine distance; delete it or choose another collection prefix", name, dim)
	}
	if ix.opts.Shards > 0 && params.GetShardNumber() != uint32(ix.opts.Shards) ||
		ix.opts.Replicas > 0 && params.GetReplicationFactor() != uint32(ix.opts.Replicas) {
		// Changing these takes resharding, an operator's decision; the collection works as it is.
		ix.logger.Warn("qdrant collection exists with other shard settings than configured; keeping them",
			"collection", name, "shards", params.GetShardNumber(), "replicas", params.GetReplicationFactor(),
			"configured_shards", ix.opts.Shards, "configured_replicas", ix.opts.Replicas)
	}
	// A crash between creating the collection and its indexes leaves some missing: create them
	// whenever they are.
	for _, pi := range payloadIndexes {
		if _, ok := info.GetPayloadSchema()[pi.field]; ok {
			continue
		}
		_, err := ix.client.CreateFieldIndex(ctx, &qc.CreateFieldIndexCollection{
			CollectionName:   name,
			Wait:             qc.PtrOf(true),
			FieldName:        pi.field,
			FieldType:        qc.PtrOf(pi.typ),
			FieldIndexParams: pi.params,
		})
		if err != nil {
			return ix.qdrantError("create payload index "+pi.field, err)
		}
	}
	ix.mu.Lock()
	ix.ready[name] = true
	ix.mu.Unlock()
	return nil
}

// forget makes the next write to the collection check it again, after Qdrant said it is gone.
func (ix *Index) forget(name string) {
	ix.mu.Lock()
	delete(ix.ready, name)
	ix.mu.Unlock()
}

// createRequest returns the request that creates a collection with the configured settings.
func (ix *Index) createRequest(name string, dim int) *qc.CreateCollection {
	vp := &qc.VectorParams{Size: uint64(dim), Distance: qc.Distance_Cosine}
	req := &qc.CreateCollection{CollectionName: name}
	if ix.opts.OnDisk {
		vp.OnDisk = qc.PtrOf(true)
		req.OnDiskPayload = qc.PtrOf(true)
	}
	req.VectorsConfig = qc.NewVectorsConfig(vp)
	if ix.opts.Shards > 0 {
		req.ShardNumber = qc.PtrOf(uint32(ix.opts.Shards))
	}
	if ix.opts.Replicas > 0 {
		req.ReplicationFactor = qc.PtrOf(uint32(ix.opts.Replicas))
	}
	if ix.opts.Quantization == "int8" {
		req.QuantizationConfig = qc.NewQuantizationScalar(&qc.ScalarQuantization{
			Type:      qc.QuantizationType_Int8,
			AlwaysRam: qc.PtrOf(true),
		})
	}
	return req
}

// docCondition matches the points of one document.
func docCondition(k hindsight.DocKey) *qc.Condition { return qc.NewMatchKeyword(fieldDoc, docValue(k)) }

// spaceDim returns the dimension a space string names (name@version/dim), or 0 if it names none.
func spaceDim(space string) int {
	i := strings.LastIndexByte(space, '/')
	if i < 0 {
		return 0
	}
	n := 0
	for _, c := range space[i+1:] {
		if c < '0' || c > '9' || n > 1<<20 {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}
