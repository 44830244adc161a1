package media

// AnnotatedSizeKey is the Item.Metadata key under which a source records the
// image size an annotation file states, as map[string]any{"width": w,
// "height": h} with int values. It is internal to the run: the annotations
// transform reads and removes it with TakeAnnotatedSize before the item is
// uploaded.
const AnnotatedSizeKey = "_annotated_size"

// SetAnnotatedSize records w×h in md under AnnotatedSizeKey and returns md
// (allocated when nil). It does nothing when either is 0.
func SetAnnotatedSize(md map[string]any, w, h int) map[string]any {
	if w <= 0 || h <= 0 {
		return md
	}
	if md == nil {
		md = make(map[string]any, 1)
	}
	md[AnnotatedSizeKey] = map[string]any{"width": w, "height": h}
	return md
}

// TakeAnnotatedSize returns the size SetAnnotatedSize recorded in md and
// deletes it from md. ok is false when there is none.
func TakeAnnotatedSize(md map[string]any) (w, h int, ok bool) {
	v, found := md[AnnotatedSizeKey]
	if !found {
		return 0, 0, false
	}
	delete(md, AnnotatedSizeKey)
	m, _ := v.(map[string]any)
	w, okw := m["width"].(int)
	h, okh := m["height"].(int)
	return w, h, okw && okh
}
