// Package qdranttest provides Fake, an in-process stand-in for a Qdrant server that speaks Qdrant's
// gRPC protocol, so that the Qdrant store can be tested where no Qdrant can run.
package qdranttest

import (
	"context"
	"fmt"
	"maps"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Version is the Qdrant version the fake reports in its health check: that of the client module
// whose service definitions it serves.
const Version = "1.17.1"

// Fake is an in-process stand-in for a Qdrant server, not Qdrant: a gRPC server on a loopback port
// that registers the Collections, Points and Qdrant services generated in the official Go client
// and implements the calls Hindsight's Qdrant store makes, over collections kept in memory.
//
// It implements: health check; collections create, get, exists, list and delete (one unnamed
// dense vector per collection, cosine or dot distance); create field index; upsert; delete by IDs
// or filter; set and delete payload; count; and query groups (nearest to a dense vector). Searches
// are brute force, so exact: scores are cosine similarities of normalised vectors, as Qdrant's.
// Filters support must, should, must_not and min_should, nested filters, has_id, and field
// conditions on top-level keys: match keyword, keywords (any), integer, integers and boolean,
// range on numbers and datetime range on RFC 3339 strings; a condition holds for an array if it
// holds for one of its elements and never holds for a missing field, as in Qdrant. Every update
// is applied before the fake answers, as Qdrant does when asked to wait.
//
// It refuses what Qdrant refuses and the store must not do: upserting into, querying or changing a
// collection that does not exist (NotFound), creating one twice (AlreadyExists), invalid collection
// names, vectors of the wrong size, malformed point IDs (InvalidArgument), and requests without the
// API key when one is required (Unauthenticated). Features that would change what a request does
// and that it does not implement — other query kinds, prefetch, lookups, named, sparse or multi
// vectors, nested keys, shard keys, conditional upserts, other match and condition kinds — fail
// with Unimplemented rather than being ignored, so a test never passes by accident. Options that
// only tune how Qdrant works are accepted and ignored, because on one exact in-memory node they
// change nothing: wait, ordering, timeouts, read consistency, search params (hnsw_ef, exact,
// quantization rescoring) and collection tuning (HNSW, WAL, optimizers). Payload indexes are
// recorded and reported but do not change results, as in Qdrant. There is no persistence, no
// sharding or replication, no HNSW and no quantisation: the shard, replica, on-disk and
// quantisation settings of a collection are reported back as given, nothing more.
type Fake struct {
	addr string
	srv  *grpc.Server

	mu          sync.Mutex
	apiKey      string
	collections map[string]*collection
	calls       []Call
	opID        uint64
}

// Call is one request the fake received.
type Call struct {
	// Method is the service and method, e.g. "Points/QueryGroups" or "Collections/Create".
	Method   string
	Request  proto.Message // a copy of the request
	Response proto.Message // a copy of the response; nil when Err is set
	Err      error         // the status the fake answered with, or nil
}

type collection struct {
	config *qc.CreateCollection
	size   int
	cosine bool
	points map[string]*point
	schema map[string]*qc.PayloadSchemaInfo
}

type point struct {
	id      *qc.PointId
	key     string // canonical form of id, for maps and stable ordering
	vec     []float32
	payload map[string]*qc.Value
}

// Start starts a fake on 127.0.0.1 and stops it when the test ends.
func Start(tb testing.TB) *Fake {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("qdranttest: listen: %v", err)
	}
	f := &Fake{addr: lis.Addr().String(), collections: map[string]*collection{}}
	f.srv = grpc.NewServer(
		grpc.UnaryInterceptor(f.intercept),
		// The Go client pings every 10 s even when idle; grpc-go's default policy would answer
		// such a client with GOAWAY, which Qdrant's server never does.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}),
	)
	qc.RegisterQdrantServer(f.srv, qdrantService{f: f})
	qc.RegisterCollectionsServer(f.srv, collectionsService{f: f})
	qc.RegisterPointsServer(f.srv, pointsService{f: f})
	go f.srv.Serve(lis)
	tb.Cleanup(f.srv.Stop)
	return f
}

// Addr returns the host:port the fake listens on.
func (f *Fake) Addr() string { return f.addr }

// Host returns the host the fake listens on.
func (f *Fake) Host() string {
	h, _, _ := net.SplitHostPort(f.addr)
	return h
}

// Port returns the port the fake listens on.
func (f *Fake) Port() int {
	_, p, _ := net.SplitHostPort(f.addr)
	n, _ := strconv.Atoi(p)
	return n
}

// RequireAPIKey makes every later request need this key in its api-key header, as a Qdrant server
// configured with an API key does. An empty key lets every request in again.
func (f *Fake) RequireAPIKey(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.apiKey = key
}

// Calls returns the requests received for method (e.g. "Points/QueryGroups"), oldest first; an
// empty method returns every request.
func (f *Fake) Calls(method string) []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Call
	for _, c := range f.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// intercept checks the API key and records every call.
func (f *Fake) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	f.mu.Lock()
	key := f.apiKey
	f.mu.Unlock()
	var resp any
	var err error
	if md, _ := metadata.FromIncomingContext(ctx); key != "" && !slices.Contains(md.Get("api-key"), key) {
		err = status.Error(codes.Unauthenticated, "Must provide an API key or an Authorization bearer token")
	} else {
		resp, err = handler(ctx, req)
	}
	c := Call{Method: strings.TrimPrefix(info.FullMethod, "/qdrant."), Err: err}
	if m, ok := req.(proto.Message); ok {
		c.Request = proto.Clone(m)
	}
	if m, ok := resp.(proto.Message); ok && err == nil {
		c.Response = proto.Clone(m)
	}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	return resp, err
}

func notFound(name string) error {
	return status.Errorf(codes.NotFound, "Not found: Collection `%s` doesn't exist!", name)
}

func unimplemented(what string) error {
	return status.Errorf(codes.Unimplemented, "qdranttest: the fake does not implement %s", what)
}

func badInput(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, "Wrong input: "+format, args...)
}

// collection returns the named collection; the caller holds f.mu.
func (f *Fake) collection(name string) (*collection, error) {
	c := f.collections[name]
	if c == nil {
		return nil, notFound(name)
	}
	return c, nil
}

func (f *Fake) updated() *qc.PointsOperationResponse {
	f.opID++
	return &qc.PointsOperationResponse{Result: &qc.UpdateResult{OperationId: qc.PtrOf(f.opID), Status: qc.UpdateStatus_Completed}}
}

type qdrantService struct {
	qc.UnimplementedQdrantServer
	f *Fake
}

func (s qdrantService) HealthCheck(context.Context, *qc.HealthCheckRequest) (*qc.HealthCheckReply, error) {
	return &qc.HealthCheckReply{Title: "qdranttest fake, not Qdrant", Version: Version}, nil
}

type collectionsService struct {
	qc.UnimplementedCollectionsServer
	f *Fake
}

// validName applies Qdrant's rules for collection names.
func validName(name string) error {
	if name == "" || len(name) > 255 {
		return status.Errorf(codes.InvalidArgument, "Validation error in body: [collection_name: length must be 1 to 255, got %d]", len(name))
	}
	if i := strings.IndexAny(name, "<>:\"/\\|?*\x00"); i >= 0 {
		return status.Errorf(codes.InvalidArgument, "Validation error in body: [collection_name: collection name cannot contain %q char]", name[i])
	}
	return nil
}

func (s collectionsService) Create(_ context.Context, req *qc.CreateCollection) (*qc.CollectionOperationResponse, error) {
	if err := validName(req.GetCollectionName()); err != nil {
		return nil, err
	}
	vp := req.GetVectorsConfig().GetParams()
	switch {
	case req.GetVectorsConfig().GetParamsMap() != nil:
		return nil, unimplemented("named vectors")
	case req.SparseVectorsConfig != nil:
		return nil, unimplemented("sparse vectors")
	case req.ShardingMethod != nil || req.StrictModeConfig != nil:
		return nil, unimplemented("custom sharding and strict mode")
	case vp == nil:
		return nil, status.Error(codes.InvalidArgument, "Validation error in body: [vectors_config: a vector configuration is required]")
	case vp.GetSize() < 1 || vp.GetSize() > 65536:
		return nil, status.Errorf(codes.InvalidArgument, "Validation error in body: [vectors_config.size: value %d invalid, must be from 1 to 65536]", vp.GetSize())
	case vp.MultivectorConfig != nil || vp.GetDatatype() != qc.Datatype_Default:
		return nil, unimplemented("multivectors and vector data types")
	case req.ShardNumber != nil && req.GetShardNumber() == 0:
		return nil, status.Error(codes.InvalidArgument, "Validation error in body: [shard_number: value 0 invalid, must be 1 or more]")
	case req.ReplicationFactor != nil && req.GetReplicationFactor() == 0:
		return nil, status.Error(codes.InvalidArgument, "Validation error in body: [replication_factor: value 0 invalid, must be 1 or more]")
	}
	switch vp.GetDistance() {
	case qc.Distance_Cosine, qc.Distance_Dot:
	case qc.Distance_Euclid, qc.Distance_Manhattan:
		return nil, unimplemented("euclid and manhattan distances")
	default:
		return nil, status.Error(codes.InvalidArgument, "Validation error in body: [vectors_config.distance: unknown distance]")
	}
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.collections[req.GetCollectionName()] != nil {
		return nil, status.Errorf(codes.AlreadyExists, "Wrong input: Collection `%s` already exists!", req.GetCollectionName())
	}
	f.collections[req.GetCollectionName()] = &collection{
		config: proto.Clone(req).(*qc.CreateCollection),
		size:   int(vp.GetSize()),
		cosine: vp.GetDistance() == qc.Distance_Cosine,
		points: map[string]*point{},
		schema: map[string]*qc.PayloadSchemaInfo{},
	}
	return &qc.CollectionOperationResponse{Result: true}, nil
}

func (s collectionsService) Get(_ context.Context, req *qc.GetCollectionInfoRequest) (*qc.GetCollectionInfoResponse, error) {
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.collection(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	cfg := c.config
	params := &qc.CollectionParams{
		ShardNumber:       1,
		ReplicationFactor: qc.PtrOf(uint32(1)),
		OnDiskPayload:     cfg.GetOnDiskPayload(),
		VectorsConfig:     proto.Clone(cfg.GetVectorsConfig()).(*qc.VectorsConfig),
	}
	if cfg.ShardNumber != nil {
		params.ShardNumber = cfg.GetShardNumber()
	}
	if cfg.ReplicationFactor != nil {
		params.ReplicationFactor = qc.PtrOf(cfg.GetReplicationFactor())
	}
	schema := map[string]*qc.PayloadSchemaInfo{}
	for field, info := range c.schema {
		info = proto.Clone(info).(*qc.PayloadSchemaInfo)
		var n uint64
		for _, p := range c.points {
			if _, ok := p.payload[field]; ok {
				n++
			}
		}
		info.Points = qc.PtrOf(n)
		schema[field] = info
	}
	info := &qc.CollectionInfo{
		Status:          qc.CollectionStatus_Green,
		OptimizerStatus: &qc.OptimizerStatus{Ok: true},
		SegmentsCount:   1,
		Config:          &qc.CollectionConfig{Params: params},
		PayloadSchema:   schema,
		PointsCount:     qc.PtrOf(uint64(len(c.points))),
	}
	if cfg.QuantizationConfig != nil {
		info.Config.QuantizationConfig = proto.Clone(cfg.GetQuantizationConfig()).(*qc.QuantizationConfig)
	}
	return &qc.GetCollectionInfoResponse{Result: info}, nil
}

func (s collectionsService) List(context.Context, *qc.ListCollectionsRequest) (*qc.ListCollectionsResponse, error) {
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &qc.ListCollectionsResponse{}
	for _, name := range slices.Sorted(maps.Keys(f.collections)) {
		resp.Collections = append(resp.Collections, &qc.CollectionDescription{Name: name})
	}
	return resp, nil
}

func (s collectionsService) CollectionExists(_ context.Context, req *qc.CollectionExistsRequest) (*qc.CollectionExistsResponse, error) {
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	return &qc.CollectionExistsResponse{Result: &qc.CollectionExists{Exists: f.collections[req.GetCollectionName()] != nil}}, nil
}

func (s collectionsService) Delete(_ context.Context, req *qc.DeleteCollection) (*qc.CollectionOperationResponse, error) {
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.collections[req.GetCollectionName()]
	delete(f.collections, req.GetCollectionName())
	return &qc.CollectionOperationResponse{Result: ok}, nil
}

type pointsService struct {
	qc.UnimplementedPointsServer
	f *Fake
}

// plainKey refuses payload keys that address into nested objects or arrays, which the fake does
// not implement.
func plainKey(key string) error {
	if key == "" {
		return status.Error(codes.InvalidArgument, "Validation error: empty payload key")
	}
	if strings.ContainsAny(key, ".[]") {
		return unimplemented("nested payload keys (" + key + ")")
	}
	return nil
}

var schemaTypes = map[qc.FieldType]qc.PayloadSchemaType{
	qc.FieldType_FieldTypeKeyword:  qc.PayloadSchemaType_Keyword,
	qc.FieldType_FieldTypeInteger:  qc.PayloadSchemaType_Integer,
	qc.FieldType_FieldTypeFloat:    qc.PayloadSchemaType_Float,
	qc.FieldType_FieldTypeGeo:      qc.PayloadSchemaType_Geo,
	qc.FieldType_FieldTypeText:     qc.PayloadSchemaType_Text,
	qc.FieldType_FieldTypeBool:     qc.PayloadSchemaType_Bool,
	qc.FieldType_FieldTypeDatetime: qc.PayloadSchemaType_Datetime,
	qc.FieldType_FieldTypeUuid:     qc.PayloadSchemaType_Uuid,
}

func (s pointsService) CreateFieldIndex(_ context.Context, req *qc.CreateFieldIndexCollection) (*qc.PointsOperationResponse, error) {
	if err := plainKey(req.GetFieldName()); err != nil {
		return nil, err
	}
	if req.FieldType == nil {
		return nil, unimplemented("field indexes without field_type")
	}
	typ, ok := schemaTypes[req.GetFieldType()]
	if !ok {
		return nil, status.Errorf(codes.InvalidArgument, "Wrong input: unknown field type %v", req.GetFieldType())
	}
	if p := req.GetFieldIndexParams(); p != nil {
		match := map[qc.FieldType]bool{
			qc.FieldType_FieldTypeKeyword:  p.GetKeywordIndexParams() != nil,
			qc.FieldType_FieldTypeInteger:  p.GetIntegerIndexParams() != nil,
			qc.FieldType_FieldTypeFloat:    p.GetFloatIndexParams() != nil,
			qc.FieldType_FieldTypeGeo:      p.GetGeoIndexParams() != nil,
			qc.FieldType_FieldTypeText:     p.GetTextIndexParams() != nil,
			qc.FieldType_FieldTypeBool:     p.GetBoolIndexParams() != nil,
			qc.FieldType_FieldTypeDatetime: p.GetDatetimeIndexParams() != nil,
			qc.FieldType_FieldTypeUuid:     p.GetUuidIndexParams() != nil,
		}
		if !match[req.GetFieldType()] {
			return nil, status.Errorf(codes.InvalidArgument, "Wrong input: index params do not match field type %v", req.GetFieldType())
		}
	}
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.collection(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	info := &qc.PayloadSchemaInfo{DataType: typ}
	if req.FieldIndexParams != nil {
		info.Params = proto.Clone(req.GetFieldIndexParams()).(*qc.PayloadIndexParams)
	}
	c.schema[req.GetFieldName()] = info
	return f.updated(), nil
}

// pointKey returns the canonical form of a point ID, or an error for an ID Qdrant would refuse.
func pointKey(id *qc.PointId) (string, error) {
	switch v := id.GetPointIdOptions().(type) {
	case *qc.PointId_Num:
		return fmt.Sprintf("n:%020d", v.Num), nil
	case *qc.PointId_Uuid:
		u, err := uuid.Parse(v.Uuid)
		if err != nil {
			return "", status.Errorf(codes.InvalidArgument, "Unable to parse UUID: %s", v.Uuid)
		}
		return "u:" + u.String(), nil
	}
	return "", status.Error(codes.InvalidArgument, "Wrong input: point ID is missing")
}

// denseVector returns the dense vector of a point, refusing other kinds.
func denseVector(v *qc.Vectors) ([]float32, error) {
	if named := v.GetVectors(); named != nil {
		for name := range named.GetVectors() {
			return nil, badInput("Not existing vector name error: %s", name)
		}
	}
	vec := v.GetVector()
	if vec == nil {
		return nil, badInput("point has no vector")
	}
	if d := vec.GetDense(); d != nil {
		return d.GetData(), nil
	}
	if vec.GetSparse() != nil || vec.GetMultiDense() != nil || vec.GetDocument() != nil || vec.GetImage() != nil || vec.GetObject() != nil {
		return nil, unimplemented("sparse, multi-dense and inference vectors")
	}
	return vec.GetData(), nil // the deprecated form, which older clients still send
}

func normalized(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	out := slices.Clone(v)
	if s == 0 {
		return out // as Qdrant: a zero vector stays zero
	}
	inv := 1 / math.Sqrt(s)
	for i := range out {
		out[i] = float32(float64(out[i]) * inv)
	}
	return out
}

func (s pointsService) Upsert(_ context.Context, req *qc.UpsertPoints) (*qc.PointsOperationResponse, error) {
	if req.UpdateFilter != nil || req.UpdateMode != nil || req.ShardKeySelector != nil {
		return nil, unimplemented("conditional upserts and shard keys")
	}
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.collection(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	// Every point is checked before any is stored, so a refused request changes nothing.
	ps := make([]*point, 0, len(req.GetPoints()))
	for _, p := range req.GetPoints() {
		key, err := pointKey(p.GetId())
		if err != nil {
			return nil, err
		}
		vec, err := denseVector(p.GetVectors())
		if err != nil {
			return nil, err
		}
		if len(vec) != c.size {
			return nil, badInput("Vector dimension error: expected dim: %d, got %d", c.size, len(vec))
		}
		for k := range p.GetPayload() {
			if k == "" {
				return nil, status.Error(codes.InvalidArgument, "Validation error: empty payload key")
			}
		}
		if c.cosine {
			vec = normalized(vec)
		} else {
			vec = slices.Clone(vec)
		}
		ps = append(ps, &point{id: proto.Clone(p.GetId()).(*qc.PointId), key: key, vec: vec, payload: clonePayload(p.GetPayload())})
	}
	for _, p := range ps {
		c.points[p.key] = p
	}
	return f.updated(), nil
}

// selected returns the points a selector picks: the listed IDs that exist, or those passing the
// filter.
func selected(c *collection, sel *qc.PointsSelector) ([]*point, error) {
	if ids := sel.GetPoints(); ids != nil {
		var out []*point
		for _, id := range ids.GetIds() {
			key, err := pointKey(id)
			if err != nil {
				return nil, err
			}
			if p := c.points[key]; p != nil {
				out = append(out, p)
			}
		}
		return out, nil
	}
	if sel.GetFilter() == nil {
		return nil, status.Error(codes.InvalidArgument, "Validation error: points selector is empty")
	}
	pass, err := compileFilter(sel.GetFilter())
	if err != nil {
		return nil, err
	}
	var out []*point
	for _, p := range c.points {
		if pass(p) {
			out = append(out, p)
		}
	}
	return out, nil
}

func (s pointsService) Delete(_ context.Context, req *qc.DeletePoints) (*qc.PointsOperationResponse, error) {
	if req.ShardKeySelector != nil {
		return nil, unimplemented("shard keys")
	}
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.collection(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	ps, err := selected(c, req.GetPoints())
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		delete(c.points, p.key)
	}
	return f.updated(), nil
}

// payloadTargets checks a set or delete payload request and returns the points it changes.
func (f *Fake) payloadTargets(name string, sel *qc.PointsSelector, key *string, shard *qc.ShardKeySelector) ([]*point, error) {
	if key != nil || shard != nil {
		return nil, unimplemented("payload updates at a nested key or by shard key")
	}
	c, err := f.collection(name)
	if err != nil {
		return nil, err
	}
	if sel == nil {
		return nil, status.Error(codes.InvalidArgument, "Validation error: points selector is required")
	}
	ps, err := selected(c, sel)
	if err != nil {
		return nil, err
	}
	if ids := sel.GetPoints(); ids != nil && len(ps) < len(ids.GetIds()) {
		// Qdrant refuses to change the payload of points that do not exist.
		for _, id := range ids.GetIds() {
			if k, _ := pointKey(id); c.points[k] == nil {
				return nil, status.Errorf(codes.NotFound, "Not found: No point with id %s found", strings.TrimLeft(k[2:], "0"))
			}
		}
	}
	return ps, nil
}

func (s pointsService) SetPayload(_ context.Context, req *qc.SetPayloadPoints) (*qc.PointsOperationResponse, error) {
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	ps, err := f.payloadTargets(req.GetCollectionName(), req.GetPointsSelector(), req.Key, req.ShardKeySelector)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		// A new map, so that responses already handed out keep what they saw.
		np := clonePayload(p.payload)
		for k, v := range req.GetPayload() {
			np[k] = proto.Clone(v).(*qc.Value)
		}
		p.payload = np
	}
	return f.updated(), nil
}

func (s pointsService) DeletePayload(_ context.Context, req *qc.DeletePayloadPoints) (*qc.PointsOperationResponse, error) {
	for _, k := range req.GetKeys() {
		if err := plainKey(k); err != nil {
			return nil, err
		}
	}
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	ps, err := f.payloadTargets(req.GetCollectionName(), req.GetPointsSelector(), nil, req.ShardKeySelector)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		np := clonePayload(p.payload)
		for _, k := range req.GetKeys() {
			delete(np, k)
		}
		p.payload = np
	}
	return f.updated(), nil
}

func (s pointsService) Count(_ context.Context, req *qc.CountPoints) (*qc.CountResponse, error) {
	if req.ShardKeySelector != nil {
		return nil, unimplemented("shard keys")
	}
	pass := func(*point) bool { return true }
	if req.Filter != nil {
		var err error
		if pass, err = compileFilter(req.GetFilter()); err != nil {
			return nil, err
		}
	}
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.collection(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	var n uint64
	for _, p := range c.points {
		if pass(p) {
			n++
		}
	}
	return &qc.CountResponse{Result: &qc.CountResult{Count: n}}, nil
}

// QueryGroups scores every point that passes the filter against the query vector and groups the
// best by a payload field, best group first. Unset limit and group size default to 10 groups of 3
// points, as in Qdrant.
func (s pointsService) QueryGroups(_ context.Context, req *qc.QueryPointGroups) (*qc.QueryGroupsResponse, error) {
	switch {
	case len(req.GetPrefetch()) > 0:
		return nil, unimplemented("prefetch")
	case req.GetUsing() != "":
		return nil, badInput("Not existing vector name error: %s", req.GetUsing())
	case req.LookupFrom != nil || req.WithLookup != nil:
		return nil, unimplemented("lookups")
	case req.ShardKeySelector != nil:
		return nil, unimplemented("shard keys")
	case req.GetWithVectors().GetEnable() || req.GetWithVectors().GetInclude() != nil:
		return nil, unimplemented("returning vectors")
	case req.GetGroupBy() == "":
		return nil, status.Error(codes.InvalidArgument, "Validation error in body: [group_by: must not be empty]")
	}
	if err := plainKey(req.GetGroupBy()); err != nil {
		return nil, err
	}
	input := req.GetQuery().GetNearest()
	if input == nil {
		return nil, unimplemented("queries other than nearest")
	}
	dense := input.GetDense()
	if dense == nil {
		return nil, unimplemented("nearest queries other than a dense vector")
	}
	limit, size := uint64(10), uint64(3)
	if req.Limit != nil {
		limit = req.GetLimit()
	}
	if req.GroupSize != nil {
		size = req.GetGroupSize()
	}
	if limit < 1 || size < 1 {
		return nil, status.Error(codes.InvalidArgument, "Validation error in body: [limit and group_size must be 1 or more]")
	}
	pass := func(*point) bool { return true }
	if req.Filter != nil {
		var err error
		if pass, err = compileFilter(req.GetFilter()); err != nil {
			return nil, err
		}
	}
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.collection(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	q := dense.GetData()
	if len(q) != c.size {
		return nil, badInput("Vector dimension error: expected dim: %d, got %d", c.size, len(q))
	}
	if c.cosine {
		q = normalized(q)
	}
	type hit struct {
		p     *point
		score float32
	}
	var hits []hit
	for _, p := range c.points {
		if !pass(p) {
			continue
		}
		var s float32
		for i, x := range q {
			s += x * p.vec[i]
		}
		if req.ScoreThreshold != nil && s < req.GetScoreThreshold() {
			continue
		}
		hits = append(hits, hit{p, s})
	}
	slices.SortFunc(hits, func(a, b hit) int {
		if a.score != b.score {
			if a.score > b.score {
				return -1
			}
			return 1
		}
		return strings.Compare(a.p.key, b.p.key)
	})
	var groups []*qc.PointGroup
	byID := map[string]*qc.PointGroup{}
	for _, h := range hits {
		for _, v := range elements(h.p.payload[req.GetGroupBy()]) {
			var id *qc.GroupId
			var key string
			switch x := v.GetKind().(type) {
			case *qc.Value_StringValue:
				id, key = qc.NewGroupIDString(x.StringValue), "s:"+x.StringValue
			case *qc.Value_IntegerValue:
				id, key = qc.NewGroupIDInt(x.IntegerValue), fmt.Sprint("i:", x.IntegerValue)
			default:
				continue // only strings and integers form groups
			}
			g := byID[key]
			if g == nil {
				if uint64(len(groups)) == limit {
					continue
				}
				g = &qc.PointGroup{Id: id}
				byID[key] = g
				groups = append(groups, g)
			}
			if uint64(len(g.Hits)) < size {
				g.Hits = append(g.Hits, &qc.ScoredPoint{
					Id:      proto.Clone(h.p.id).(*qc.PointId),
					Payload: selectPayload(h.p.payload, req.GetWithPayload()),
					Score:   h.score,
				})
			}
		}
	}
	return &qc.QueryGroupsResponse{Result: &qc.GroupsResult{Groups: groups}}, nil
}

// selectPayload returns the part of a payload a selector asks for; a nil selector asks for none.
func selectPayload(p map[string]*qc.Value, sel *qc.WithPayloadSelector) map[string]*qc.Value {
	out := map[string]*qc.Value{}
	switch {
	case sel.GetEnable():
		return clonePayload(p)
	case sel.GetInclude() != nil:
		for _, k := range sel.GetInclude().GetFields() {
			if v, ok := p[k]; ok {
				out[k] = proto.Clone(v).(*qc.Value)
			}
		}
	case sel.GetExclude() != nil:
		out = clonePayload(p)
		for _, k := range sel.GetExclude().GetFields() {
			delete(out, k)
		}
	}
	return out
}

func clonePayload(p map[string]*qc.Value) map[string]*qc.Value {
	out := make(map[string]*qc.Value, len(p))
	for k, v := range p {
		out[k] = proto.Clone(v).(*qc.Value)
	}
	return out
}
