package transforms

import "go.uber.org/zap"

// Option sets an optional knob of a transform constructor or of Build.
type Option func(*options)

type options struct {
	log *zap.Logger
}

// WithLogger sets the logger a transform writes to. Only annotations with
// on_invalid: drop logs (one warning per dropped region); the others return
// their problems as errors. The default is zap.NewNop(). A nil logger is
// ignored.
func WithLogger(l *zap.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

func buildOptions(opts []Option) options {
	o := options{log: zap.NewNop()}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}
