package client

import "fmt"

func ExampleParseEndpoint() {
	for _, base := range []string{"", "https://api.clarifai.com", "http://127.0.0.1:18080", "127.0.0.1:18080", "example.com:18080"} {
		ep, err := ParseEndpoint(base)
		fmt.Println(ep, err)
	}
	// Output:
	// tls://api.clarifai.com:443 <nil>
	// tls://api.clarifai.com:443 <nil>
	// plaintext://127.0.0.1:18080 <nil>
	// plaintext://127.0.0.1:18080 <nil>
	// tls://example.com:18080 <nil>
}
