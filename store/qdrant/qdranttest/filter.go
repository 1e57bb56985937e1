package qdranttest

import (
	"slices"
	"time"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// predicate reports whether a point passes a filter or condition.
type predicate func(*point) bool

// compileFilter checks a filter and turns it into a predicate. Checking first means an unsupported
// or malformed filter fails even when no point would reach it.
func compileFilter(f *qc.Filter) (predicate, error) {
	compileAll := func(cs []*qc.Condition) ([]predicate, error) {
		out := make([]predicate, len(cs))
		for i, c := range cs {
			p, err := compileCondition(c)
			if err != nil {
				return nil, err
			}
			out[i] = p
		}
		return out, nil
	}
	must, err := compileAll(f.GetMust())
	if err != nil {
		return nil, err
	}
	should, err := compileAll(f.GetShould())
	if err != nil {
		return nil, err
	}
	mustNot, err := compileAll(f.GetMustNot())
	if err != nil {
		return nil, err
	}
	var minShould []predicate
	var minCount uint64
	if ms := f.GetMinShould(); ms != nil {
		if minShould, err = compileAll(ms.GetConditions()); err != nil {
			return nil, err
		}
		minCount = ms.GetMinCount()
	}
	return func(p *point) bool {
		for _, c := range must {
			if !c(p) {
				return false
			}
		}
		// An empty should places no condition; a non-empty one needs at least one to hold.
		if len(should) > 0 && !slices.ContainsFunc(should, func(c predicate) bool { return c(p) }) {
			return false
		}
		for _, c := range mustNot {
			if c(p) {
				return false
			}
		}
		if minShould != nil {
			var n uint64
			for _, c := range minShould {
				if c(p) {
					n++
				}
			}
			if n < minCount {
				return false
			}
		}
		return true
	}, nil
}

func compileCondition(c *qc.Condition) (predicate, error) {
	switch v := c.GetConditionOneOf().(type) {
	case *qc.Condition_Field:
		return compileField(v.Field)
	case *qc.Condition_Filter:
		return compileFilter(v.Filter)
	case *qc.Condition_HasId:
		keys := map[string]bool{}
		for _, id := range v.HasId.GetHasId() {
			k, err := pointKey(id)
			if err != nil {
				return nil, err
			}
			keys[k] = true
		}
		return func(p *point) bool { return keys[p.key] }, nil
	case *qc.Condition_IsEmpty, *qc.Condition_IsNull, *qc.Condition_Nested, *qc.Condition_HasVector:
		return nil, unimplemented("is_empty, is_null, nested and has_vector conditions")
	}
	return nil, status.Error(codes.InvalidArgument, "Validation error: empty condition")
}

// elements returns the values a condition looks at: an array's elements, or the value itself.
func elements(v *qc.Value) []*qc.Value {
	if v == nil {
		return nil
	}
	if l := v.GetListValue(); l != nil {
		return l.GetValues()
	}
	return []*qc.Value{v}
}

// anyElement builds a predicate that holds when the field has an element for which ok holds; a
// missing field never matches.
func anyElement(key string, ok func(*qc.Value) bool) predicate {
	return func(p *point) bool { return slices.ContainsFunc(elements(p.payload[key]), ok) }
}

func compileField(fc *qc.FieldCondition) (predicate, error) {
	if err := plainKey(fc.GetKey()); err != nil {
		return nil, err
	}
	set := 0
	for _, b := range []bool{fc.Match != nil, fc.Range != nil, fc.DatetimeRange != nil, fc.GeoBoundingBox != nil,
		fc.GeoRadius != nil, fc.GeoPolygon != nil, fc.ValuesCount != nil, fc.IsEmpty != nil, fc.IsNull != nil} {
		if b {
			set++
		}
	}
	if set != 1 {
		return nil, status.Errorf(codes.InvalidArgument, "Validation error: field condition on %q must have exactly one condition, has %d", fc.GetKey(), set)
	}
	key := fc.GetKey()
	switch {
	case fc.Match != nil:
		return compileMatch(key, fc.GetMatch())
	case fc.Range != nil:
		r := fc.GetRange()
		return anyElement(key, func(v *qc.Value) bool {
			var x float64
			switch n := v.GetKind().(type) {
			case *qc.Value_IntegerValue:
				x = float64(n.IntegerValue)
			case *qc.Value_DoubleValue:
				x = n.DoubleValue
			default:
				return false
			}
			return (r.Lt == nil || x < r.GetLt()) && (r.Gt == nil || x > r.GetGt()) &&
				(r.Lte == nil || x <= r.GetLte()) && (r.Gte == nil || x >= r.GetGte())
		}), nil
	case fc.DatetimeRange != nil:
		r := fc.GetDatetimeRange()
		for _, ts := range []*timestamppb.Timestamp{r.Lt, r.Gt, r.Lte, r.Gte} {
			if ts == nil {
				continue
			}
			if err := ts.CheckValid(); err != nil {
				return nil, status.Errorf(codes.InvalidArgument, "Validation error: datetime range: %v", err)
			}
		}
		return anyElement(key, func(v *qc.Value) bool {
			s, ok := v.GetKind().(*qc.Value_StringValue)
			if !ok {
				return false
			}
			t, err := time.Parse(time.RFC3339Nano, s.StringValue)
			if err != nil {
				return false // not a datetime: the condition does not hold, as in Qdrant
			}
			return (r.Lt == nil || t.Before(r.GetLt().AsTime())) && (r.Gt == nil || t.After(r.GetGt().AsTime())) &&
				(r.Lte == nil || !t.After(r.GetLte().AsTime())) && (r.Gte == nil || !t.Before(r.GetGte().AsTime()))
		}), nil
	}
	return nil, unimplemented("geo, values_count, is_empty and is_null field conditions")
}

func compileMatch(key string, m *qc.Match) (predicate, error) {
	switch v := m.GetMatchValue().(type) {
	case *qc.Match_Keyword:
		return anyElement(key, func(x *qc.Value) bool {
			s, ok := x.GetKind().(*qc.Value_StringValue)
			return ok && s.StringValue == v.Keyword
		}), nil
	case *qc.Match_Keywords:
		set := map[string]bool{}
		for _, s := range v.Keywords.GetStrings() {
			set[s] = true
		}
		return anyElement(key, func(x *qc.Value) bool {
			s, ok := x.GetKind().(*qc.Value_StringValue)
			return ok && set[s.StringValue]
		}), nil
	case *qc.Match_Integer:
		return anyElement(key, func(x *qc.Value) bool {
			n, ok := x.GetKind().(*qc.Value_IntegerValue)
			return ok && n.IntegerValue == v.Integer
		}), nil
	case *qc.Match_Integers:
		return anyElement(key, func(x *qc.Value) bool {
			n, ok := x.GetKind().(*qc.Value_IntegerValue)
			return ok && slices.Contains(v.Integers.GetIntegers(), n.IntegerValue)
		}), nil
	case *qc.Match_Boolean:
		return anyElement(key, func(x *qc.Value) bool {
			b, ok := x.GetKind().(*qc.Value_BoolValue)
			return ok && b.BoolValue == v.Boolean
		}), nil
	case nil:
		return nil, status.Errorf(codes.InvalidArgument, "Validation error: empty match on %q", key)
	}
	return nil, unimplemented("except, text, phrase and text_any matches")
}
