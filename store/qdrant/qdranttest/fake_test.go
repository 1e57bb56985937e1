package qdranttest

import (
	"context"
	"math"
	"testing"
	"time"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func client(t *testing.T, f *Fake, apiKey string) *qc.Client {
	t.Helper()
	c, err := qc.NewClient(&qc.Config{Host: f.Host(), Port: f.Port(), APIKey: apiKey, SkipCompatibilityCheck: true, PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// fixture is a collection "c" of 2-dimensional cosine vectors with four points whose payloads
// exercise the filter conditions.
func fixture(t *testing.T) (*Fake, *qc.Client) {
	t.Helper()
	f := Start(t)
	c := client(t, f, "")
	ctx := context.Background()
	if err := c.CreateCollection(ctx, &qc.CreateCollection{CollectionName: "c",
		VectorsConfig: qc.NewVectorsConfig(&qc.VectorParams{Size: 2, Distance: qc.Distance_Cosine})}); err != nil {
		t.Fatal(err)
	}
	pts := []*qc.PointStruct{
		{Id: qc.NewIDNum(1), Vectors: qc.NewVectorsDense([]float32{1, 0}), Payload: qc.NewValueMap(map[string]any{
			"tenant": "acme", "doc": "a", "tags": []any{"x", "y"}, "sev": 5, "at": "2024-03-01T12:00:00Z"})},
		{Id: qc.NewIDNum(2), Vectors: qc.NewVectorsDense([]float32{3, 4}), Payload: qc.NewValueMap(map[string]any{
			"tenant": "globex", "doc": "a", "tags": []any{"y"}, "sev": 2, "at": "2023-01-01T00:00:00Z"})},
		{Id: qc.NewIDNum(3), Vectors: qc.NewVectorsDense([]float32{0, 2}), Payload: qc.NewValueMap(map[string]any{
			"tenant": "", "doc": "b", "sev": 1.5})},
		{Id: qc.NewID("5c56c793-69f3-4fbf-87e6-c4bf54c28c26"), Vectors: qc.NewVectorsDense([]float32{-1, 0}), Payload: qc.NewValueMap(map[string]any{
			"tenant": "acme", "doc": "c", "sev": "high", "at": "not a time"})},
	}
	if _, err := c.Upsert(ctx, &qc.UpsertPoints{CollectionName: "c", Wait: qc.PtrOf(true), Points: pts}); err != nil {
		t.Fatal(err)
	}
	return f, c
}

func code(err error) codes.Code { return status.Code(err) }

func TestRefusesWhatQdrantRefuses(t *testing.T) {
	ctx := context.Background()
	_, c := fixture(t)
	vec := qc.NewVectorsDense([]float32{1, 0})
	for _, tc := range []struct {
		name string
		err  error
		want codes.Code
	}{
		{"upsert into a missing collection", second(c.Upsert(ctx, &qc.UpsertPoints{CollectionName: "nope", Points: []*qc.PointStruct{{Id: qc.NewIDNum(1), Vectors: vec}}})), codes.NotFound},
		{"query a missing collection", second(c.QueryGroups(ctx, &qc.QueryPointGroups{CollectionName: "nope", Query: qc.NewQueryDense([]float32{1, 0}), GroupBy: "doc"})), codes.NotFound},
		{"delete from a missing collection", second(c.Delete(ctx, &qc.DeletePoints{CollectionName: "nope", Points: qc.NewPointsSelector(qc.NewIDNum(1))})), codes.NotFound},
		{"index a missing collection", second(c.CreateFieldIndex(ctx, &qc.CreateFieldIndexCollection{CollectionName: "nope", FieldName: "doc", FieldType: qc.FieldType_FieldTypeKeyword.Enum()})), codes.NotFound},
		{"create a collection twice", c.CreateCollection(ctx, &qc.CreateCollection{CollectionName: "c", VectorsConfig: qc.NewVectorsConfig(&qc.VectorParams{Size: 2, Distance: qc.Distance_Cosine})}), codes.AlreadyExists},
		{"create a collection with a slash", c.CreateCollection(ctx, &qc.CreateCollection{CollectionName: "a/b", VectorsConfig: qc.NewVectorsConfig(&qc.VectorParams{Size: 2, Distance: qc.Distance_Cosine})}), codes.InvalidArgument},
		{"create a collection of size 0", c.CreateCollection(ctx, &qc.CreateCollection{CollectionName: "z", VectorsConfig: qc.NewVectorsConfig(&qc.VectorParams{Size: 0, Distance: qc.Distance_Cosine})}), codes.InvalidArgument},
		{"upsert a vector of the wrong size", second(c.Upsert(ctx, &qc.UpsertPoints{CollectionName: "c", Points: []*qc.PointStruct{{Id: qc.NewIDNum(9), Vectors: qc.NewVectorsDense([]float32{1, 2, 3})}}})), codes.InvalidArgument},
		{"upsert a malformed UUID", second(c.Upsert(ctx, &qc.UpsertPoints{CollectionName: "c", Points: []*qc.PointStruct{{Id: qc.NewID("not-a-uuid"), Vectors: vec}}})), codes.InvalidArgument},
		{"upsert a named vector", second(c.Upsert(ctx, &qc.UpsertPoints{CollectionName: "c", Points: []*qc.PointStruct{{Id: qc.NewIDNum(9), Vectors: qc.NewVectorsMap(map[string]*qc.Vector{"text": qc.NewVector(1, 0)})}}})), codes.InvalidArgument},
		{"query a vector of the wrong size", second(c.QueryGroups(ctx, &qc.QueryPointGroups{CollectionName: "c", Query: qc.NewQueryDense([]float32{1}), GroupBy: "doc"})), codes.InvalidArgument},
		{"set the payload of a missing point", second(c.SetPayload(ctx, &qc.SetPayloadPoints{CollectionName: "c", Payload: qc.NewValueMap(map[string]any{"k": 1}), PointsSelector: qc.NewPointsSelector(qc.NewIDNum(77))})), codes.NotFound},
		{"a condition it does not implement", second(c.Count(ctx, &qc.CountPoints{CollectionName: "c", Filter: &qc.Filter{Must: []*qc.Condition{qc.NewMatchText("doc", "a")}}})), codes.Unimplemented},
		{"a nested key", second(c.Count(ctx, &qc.CountPoints{CollectionName: "c", Filter: &qc.Filter{Must: []*qc.Condition{qc.NewMatch("a.b", "x")}}})), codes.Unimplemented},
	} {
		if got := code(tc.err); got != tc.want {
			t.Errorf("%s: %v (%v), want %v", tc.name, got, tc.err, tc.want)
		}
	}
	// A refused upsert stores none of its points.
	_, err := c.Upsert(ctx, &qc.UpsertPoints{CollectionName: "c", Points: []*qc.PointStruct{
		{Id: qc.NewIDNum(10), Vectors: vec}, {Id: qc.NewIDNum(11), Vectors: qc.NewVectorsDense([]float32{1})}}})
	if err == nil {
		t.Fatal("mixed upsert succeeded")
	}
	if n, _ := c.Count(ctx, &qc.CountPoints{CollectionName: "c"}); n != 4 {
		t.Errorf("after a refused upsert the collection has %d points, want 4", n)
	}
}

func second[T any](_ T, err error) error { return err }

func TestFilters(t *testing.T) {
	ctx := context.Background()
	_, c := fixture(t)
	ts := func(s string) *timestamppb.Timestamp {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return timestamppb.New(tm)
	}
	for _, tc := range []struct {
		name   string
		filter *qc.Filter
		want   uint64
	}{
		{"keyword", &qc.Filter{Must: []*qc.Condition{qc.NewMatch("tenant", "acme")}}, 2},
		{"empty keyword", &qc.Filter{Must: []*qc.Condition{qc.NewMatch("tenant", "")}}, 1},
		{"keywords (any)", &qc.Filter{Must: []*qc.Condition{qc.NewMatchKeywords("tenant", "globex", "")}}, 2},
		{"keyword in an array", &qc.Filter{Must: []*qc.Condition{qc.NewMatch("tags", "y")}}, 2},
		{"keywords in an array", &qc.Filter{Must: []*qc.Condition{qc.NewMatchKeywords("tags", "x", "z")}}, 1},
		{"missing field", &qc.Filter{Must: []*qc.Condition{qc.NewMatchKeywords("nothing", "x")}}, 0},
		{"integer", &qc.Filter{Must: []*qc.Condition{qc.NewMatchInt("sev", 5)}}, 1},
		{"range on integers and doubles, not strings", &qc.Filter{Must: []*qc.Condition{qc.NewRange("sev", &qc.Range{Gte: qc.PtrOf(1.5)})}}, 3},
		{"range bounds", &qc.Filter{Must: []*qc.Condition{qc.NewRange("sev", &qc.Range{Gt: qc.PtrOf(1.5), Lt: qc.PtrOf(5.0)})}}, 1},
		{"datetime since", &qc.Filter{Must: []*qc.Condition{qc.NewDatetimeRange("at", &qc.DatetimeRange{Gte: ts("2024-03-01T12:00:00Z")})}}, 1},
		{"datetime until", &qc.Filter{Must: []*qc.Condition{qc.NewDatetimeRange("at", &qc.DatetimeRange{Lte: ts("2024-03-01T11:59:59Z")})}}, 1},
		{"datetime exclusive", &qc.Filter{Must: []*qc.Condition{qc.NewDatetimeRange("at", &qc.DatetimeRange{Gt: ts("2024-03-01T12:00:00Z")})}}, 0},
		{"should", &qc.Filter{Should: []*qc.Condition{qc.NewMatch("doc", "b"), qc.NewMatch("doc", "c")}}, 2},
		{"must and should", &qc.Filter{Must: []*qc.Condition{qc.NewMatch("tenant", "acme")}, Should: []*qc.Condition{qc.NewMatch("doc", "b"), qc.NewMatch("doc", "c")}}, 1},
		{"must not", &qc.Filter{MustNot: []*qc.Condition{qc.NewMatchKeywords("doc", "a", "b")}}, 1},
		{"nested filters", &qc.Filter{Should: []*qc.Condition{
			qc.NewFilterAsCondition(&qc.Filter{Must: []*qc.Condition{qc.NewMatch("doc", "a"), qc.NewRange("sev", &qc.Range{Gte: qc.PtrOf(3.0)})}}),
			qc.NewFilterAsCondition(&qc.Filter{Must: []*qc.Condition{qc.NewMatch("doc", "b")}}),
		}}, 2},
		{"has id", &qc.Filter{Must: []*qc.Condition{qc.NewHasID(qc.NewIDNum(2), qc.NewID("5C56C793-69F3-4FBF-87E6-C4BF54C28C26"))}}, 2},
		{"min should", &qc.Filter{MinShould: &qc.MinShould{MinCount: 2, Conditions: []*qc.Condition{
			qc.NewMatch("tenant", "acme"), qc.NewMatch("doc", "a"), qc.NewMatch("tags", "x")}}}, 1},
	} {
		n, err := c.Count(ctx, &qc.CountPoints{CollectionName: "c", Filter: tc.filter})
		if err != nil || n != tc.want {
			t.Errorf("%s: %d points, %v; want %d", tc.name, n, err, tc.want)
		}
	}
}

func TestQueryGroups(t *testing.T) {
	ctx := context.Background()
	_, c := fixture(t)
	groups, err := c.QueryGroups(ctx, &qc.QueryPointGroups{
		CollectionName: "c", Query: qc.NewQueryDense([]float32{2, 0}), GroupBy: "doc",
		GroupSize: qc.PtrOf(uint64(1)), Limit: qc.PtrOf(uint64(2)), WithPayload: qc.NewWithPayloadInclude("tenant"),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Cosine to (1, 0): point 1 scores 1, point 2 (3,4) 0.6, point 3 0, point 4 -1. Doc a's best is
	// point 1; b comes second; c is beyond the limit.
	if len(groups) != 2 || groups[0].GetId().GetStringValue() != "a" || groups[1].GetId().GetStringValue() != "b" {
		t.Fatalf("groups = %v, want a then b", groups)
	}
	a := groups[0].GetHits()
	if len(a) != 1 || a[0].GetId().GetNum() != 1 || math.Abs(float64(a[0].GetScore())-1) > 1e-6 {
		t.Errorf("group a = %v, want point 1 with score 1", a)
	}
	if p := a[0].GetPayload(); len(p) != 1 || p["tenant"].GetStringValue() != "acme" {
		t.Errorf("payload = %v, want only tenant", p)
	}
	// Bigger groups keep their hits best first; a filter applies before grouping.
	groups, err = c.QueryGroups(ctx, &qc.QueryPointGroups{
		CollectionName: "c", Query: qc.NewQueryDense([]float32{1, 0}), GroupBy: "doc", GroupSize: qc.PtrOf(uint64(5)),
		Filter: &qc.Filter{MustNot: []*qc.Condition{qc.NewMatch("doc", "b")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 2 || len(groups[0].GetHits()) != 2 || math.Abs(float64(groups[0].GetHits()[1].GetScore())-0.6) > 1e-6 ||
		groups[1].GetId().GetStringValue() != "c" || len(groups[0].GetHits()[0].GetPayload()) != 0 {
		t.Errorf("groups = %v, want a (scores 1, 0.6, no payload) then c", groups)
	}
}

func TestPayloadUpdatesAndDeletes(t *testing.T) {
	ctx := context.Background()
	_, c := fixture(t)
	docA := qc.NewPointsSelectorFilter(&qc.Filter{Must: []*qc.Condition{qc.NewMatch("doc", "a")}})
	if _, err := c.SetPayload(ctx, &qc.SetPayloadPoints{CollectionName: "c", Payload: qc.NewValueMap(map[string]any{"sev": 9}), PointsSelector: docA}); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Count(ctx, &qc.CountPoints{CollectionName: "c", Filter: &qc.Filter{Must: []*qc.Condition{qc.NewMatchInt("sev", 9)}}}); n != 2 {
		t.Errorf("%d points with the new payload, want 2", n)
	}
	if _, err := c.DeletePayload(ctx, &qc.DeletePayloadPoints{CollectionName: "c", Keys: []string{"at"}, PointsSelector: docA}); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Count(ctx, &qc.CountPoints{CollectionName: "c", Filter: &qc.Filter{Must: []*qc.Condition{qc.NewDatetimeRange("at", &qc.DatetimeRange{Gte: timestamppb.New(time.Time{})})}}}); n != 0 {
		t.Errorf("%d points still have a time", n)
	}
	if _, err := c.Delete(ctx, &qc.DeletePoints{CollectionName: "c", Points: docA}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Delete(ctx, &qc.DeletePoints{CollectionName: "c", Points: qc.NewPointsSelector(qc.NewIDNum(3))}); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Count(ctx, &qc.CountPoints{CollectionName: "c"}); n != 1 {
		t.Errorf("%d points left, want 1", n)
	}
}

func TestAPIKeyAndCalls(t *testing.T) {
	f := Start(t)
	f.RequireAPIKey("k")
	ctx := context.Background()
	if _, err := client(t, f, "").ListCollections(ctx); code(err) != codes.Unauthenticated {
		t.Errorf("without the key: %v, want Unauthenticated", err)
	}
	if _, err := client(t, f, "wrong").ListCollections(ctx); code(err) != codes.Unauthenticated {
		t.Errorf("with a wrong key: %v, want Unauthenticated", err)
	}
	if _, err := client(t, f, "k").ListCollections(ctx); err != nil {
		t.Errorf("with the key: %v", err)
	}
	calls := f.Calls("Collections/List")
	if len(calls) != 3 || calls[0].Err == nil || calls[2].Err != nil || calls[2].Response == nil {
		t.Errorf("recorded calls = %v", calls)
	}
	reply, err := client(t, f, "k").HealthCheck(ctx)
	if err != nil || reply.GetVersion() != Version {
		t.Errorf("health check = %v, %v", reply, err)
	}
}
