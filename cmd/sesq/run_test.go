package main

import (
	"reflect"
	"testing"

	"github.com/sesq/sesq/internal/config"
	"github.com/sesq/sesq/worker"
)

func TestMemoryLimitGrowsWithTheConcurrency(t *testing.T) {
	for _, c := range []struct {
		concurrency int
		want        int64
	}{{1, 16<<20 + 256<<10}, {32, 24 << 20}, {256, 80 << 20}} {
		if got := memoryLimit(c.concurrency); got != c.want {
			t.Errorf("memoryLimit(%d) = %d MiB, want %d MiB", c.concurrency, got>>20, c.want>>20)
		}
	}
}

// Every worker setting comes from the configuration field of the same name,
// and the SESQ_* defaults are the worker's.
func TestWorkerConfigCopiesEveryField(t *testing.T) {
	var c config.Config
	cv := reflect.ValueOf(&c).Elem()
	wt := reflect.TypeOf(worker.Config{})
	for i := range wt.NumField() {
		f := wt.Field(i)
		if derived[f.Name] {
			continue
		}
		cf := cv.FieldByName(f.Name)
		if !cf.IsValid() || cf.Type() != f.Type {
			t.Fatalf("config.Config has no field %s %s", f.Name, f.Type)
		}
		switch cf.Kind() {
		case reflect.String:
			cf.SetString("v" + f.Name)
		case reflect.Int, reflect.Int64:
			cf.SetInt(int64(i + 1))
		case reflect.Float64:
			cf.SetFloat(float64(i) + 0.5)
		case reflect.Slice:
			cf.Set(reflect.ValueOf([]string{f.Name}))
		default:
			t.Fatalf("field %s: kind %s not covered", f.Name, cf.Kind())
		}
	}
	w := reflect.ValueOf(workerConfig(c))
	for i := range wt.NumField() {
		name := wt.Field(i).Name
		if derived[name] {
			continue
		}
		if !reflect.DeepEqual(w.Field(i).Interface(), cv.FieldByName(name).Interface()) {
			t.Errorf("workerConfig does not copy %s", name)
		}
	}
}

// derived are the worker settings that are not copied but parsed from
// variables of another form (TestWorkerConfigDerivedFields).
var derived = map[string]bool{"Lanes": true, "FairnessOff": true}

func TestWorkerConfigDerivedFields(t *testing.T) {
	c := config.Config{
		Queues:   "tx=https://sqs.us-east-1.amazonaws.com/1/tx:8,bulk=https://sqs.us-east-1.amazonaws.com/1/bulk",
		DLQURLs:  "tx=https://sqs.us-east-1.amazonaws.com/1/tx-dlq,bulk=https://sqs.us-east-1.amazonaws.com/1/bulk-dlq",
		Fairness: "off",
	}
	w := workerConfig(c)
	want := []worker.Lane{
		{Name: "tx", QueueURL: "https://sqs.us-east-1.amazonaws.com/1/tx", DLQURL: "https://sqs.us-east-1.amazonaws.com/1/tx-dlq", Weight: 8},
		{Name: "bulk", QueueURL: "https://sqs.us-east-1.amazonaws.com/1/bulk", DLQURL: "https://sqs.us-east-1.amazonaws.com/1/bulk-dlq", Weight: 1},
	}
	if !reflect.DeepEqual(w.Lanes, want) || !w.FairnessOff {
		t.Errorf("lanes %+v, fairness off %v; want %+v and true", w.Lanes, w.FairnessOff, want)
	}
	if c.Fairness = "tenant"; workerConfig(c).FairnessOff {
		t.Error("SESQ_FAIRNESS=tenant turned fairness off")
	}
}

func TestConfigDefaultsAreTheWorkers(t *testing.T) {
	for _, v := range config.Variables() {
		t.Setenv(v, "")
	}
	t.Setenv("SESQ_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/1/q")
	t.Setenv("SESQ_DLQ_URL", "https://sqs.us-east-1.amazonaws.com/1/q-dlq")
	c, err := config.Load(config.ForRun)
	if err != nil {
		t.Fatal(err)
	}
	got := workerConfig(c)
	want := worker.DefaultConfig()
	want.QueueURL, want.DLQURL = c.QueueURL, c.DLQURL
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults from SESQ_*:\n%+v\nworker.DefaultConfig:\n%+v", got, want)
	}
}
