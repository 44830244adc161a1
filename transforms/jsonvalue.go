package transforms

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
)

// normalizeJSON converts a value decoded from YAML or built in Go into the
// JSON value types that pipeline.Item.Metadata holds: nil, bool, string,
// float64, []any and map[string]any. Every number becomes a float64, because
// google.protobuf.Struct carries numbers as doubles anyway; converting here
// keeps the values this package writes of one type. NaN and ±Inf are errors:
// JSON cannot carry them. path names the value in error messages.
func normalizeJSON(path string, v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, string:
		return x, nil
	case float64:
		return checkFinite(path, x)
	case float32:
		return checkFinite(path, float64(x))
	case int:
		return float64(x), nil
	case int8:
		return float64(x), nil
	case int16:
		return float64(x), nil
	case int32:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case uint:
		return float64(x), nil
	case uint8:
		return float64(x), nil
	case uint16:
		return float64(x), nil
	case uint32:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return checkFinite(path, f)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalizeJSON(fmt.Sprintf("%s[%d]", path, i), e)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for _, k := range sortedKeys(x) {
			n, err := normalizeJSON(path+"."+k, x[k])
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("%s: object key %v is not a string", path, k)
			}
			n, err := normalizeJSON(path+"."+ks, e)
			if err != nil {
				return nil, err
			}
			out[ks] = n
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%s: %T is not a JSON value", path, v)
	}
}

func checkFinite(path string, f float64) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%s: %v is not a JSON number", path, f)
	}
	return f, nil
}

// deepCopyJSON copies the containers of a normalized JSON value, so that two
// items never share a nested map or slice that a later stage may modify.
func deepCopyJSON(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopyJSON(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopyJSON(e)
		}
		return out
	default:
		return v
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
