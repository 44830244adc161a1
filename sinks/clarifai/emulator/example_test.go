package emulator_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
)

// Example starts an emulator, posts an input over gRPC as a client would,
// and inspects what the emulator stored.
func Example() {
	srv, err := emulator.Start("127.0.0.1:0", emulator.Options{ProcessingDelay: -1})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	client := pb.NewV2Client(conn)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Key my-pat")
	resp, err := client.PostInputs(ctx, &pb.PostInputsRequest{
		UserAppId: &pb.UserAppIDSet{UserId: "me", AppId: "demo"},
		Inputs: []*pb.Input{{Id: "cat-1", Data: &pb.Data{
			Image:    &pb.Image{Url: "https://example.com/cat.jpg"},
			Concepts: []*pb.Concept{{Id: "cat", Value: 1}},
		}}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Status.Code)
	for _, in := range srv.Inputs("me", "demo") {
		fmt.Println(in.Input.Id, in.Input.Status.Code)
	}
	fmt.Println(srv.Counts()["me/demo"].Success)
	// Output:
	// SUCCESS
	// cat-1 INPUT_SUCCESS
	// 1
}
