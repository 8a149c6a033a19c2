// Go twin of micro.skynet: every goroutine starts fanout children down to the leaves;
// leaves return their number over a channel, parents sum (the classic skynet).
package main

import (
	"flag"
	"fmt"
	"runtime"
	"time"

	"../twin"
)

// twin:begin
func skynet(c chan<- int64, num, size, div int64) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int64, div)
	sub := size / div
	for i := int64(0); i < div; i++ {
		go skynet(rc, num+i*sub, sub, div)
	}
	var sum int64
	for i := int64(0); i < div; i++ {
		sum += <-rc
	}
	c <- sum
}

// twin:end

// One repetition; twin.Main runs it once per repetition the harness sends.
func run() {
	flag.Int64("tasks", 1, "unused")
	size := flag.Int64("size", 1000000, "leaves (a power of fanout)")
	workers := flag.Int("workers", runtime.NumCPU(), "GOMAXPROCS")
	fanout := flag.Int64("fanout", 10, "children per goroutine")
	flag.Parse()
	runtime.GOMAXPROCS(*workers)

	var total int64
	for k := *size; k >= 1; k /= *fanout {
		total += k
	}
	start := time.Now()
	// twin:begin
	c := make(chan int64)
	go skynet(c, 0, *size, *fanout)
	sum := <-c
	// twin:end
	wall := time.Since(start)
	fmt.Printf("wall_ns=%d ops=%d checksum=%d\n", wall.Nanoseconds(), total, sum)
}

func main() { twin.Main(run) }
