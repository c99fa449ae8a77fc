package engine

import (
	"reflect"
	"slices"
	"testing"
)

func TestParsePublishAndPortMappings(t *testing.T) {
	pb, err := ParsePublish([]string{"8080:80", "127.0.0.1:8081:80", "53/udp", "127.0.0.1::443"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]PortBinding{
		"80/tcp":  {{HostPort: "8080"}, {HostIP: "127.0.0.1", HostPort: "8081"}},
		"53/udp":  {{}},
		"443/tcp": {{HostIP: "127.0.0.1"}},
	}
	if !reflect.DeepEqual(pb, want) {
		t.Errorf("ParsePublish = %v; want %v", pb, want)
	}
	c := &Container{HostConfig: HostConfig{PortBindings: pb, PublishAllPorts: true},
		Config: Config{ExposedPorts: map[string]struct{}{"80/tcp": {}, "9000/tcp": {}}}}
	ms, err := portMappings(c)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.String())
	}
	// -p in key order, then -P's exposed ports that have no binding.
	wantMs := []string{"127.0.0.1::443/tcp", "53/udp", "8080:80/tcp", "127.0.0.1:8081:80/tcp", "9000/tcp"}
	if !slices.Equal(got, wantMs) {
		t.Errorf("portMappings = %q; want %q", got, wantMs)
	}
	for _, bad := range []string{"70000:80", "a:b", "80/sctp", ""} {
		if _, err := ParsePublish([]string{bad}); err == nil {
			t.Errorf("ParsePublish(%q) = nil error; want one", bad)
		}
	}
}

func TestPortLines(t *testing.T) {
	s := NetworkSettings{Ports: map[string][]PortBinding{
		"80/tcp":   {{HostIP: "0.0.0.0", HostPort: "8080"}},
		"443/tcp":  {{HostIP: "127.0.0.1", HostPort: "8443"}},
		"9000/udp": {{HostIP: "0.0.0.0", HostPort: "9000"}},
	}}
	got, err := PortLines(s, "")
	want := []string{"80/tcp -> 0.0.0.0:8080", "443/tcp -> 127.0.0.1:8443", "9000/udp -> 0.0.0.0:9000"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("PortLines = %q, %v; want %q", got, err, want)
	}
	if got, err := PortLines(s, "443"); err != nil || !slices.Equal(got, []string{"127.0.0.1:8443"}) {
		t.Errorf("PortLines(443) = %q, %v", got, err)
	}
	if _, err := PortLines(s, "81"); err == nil {
		t.Errorf("PortLines(81) = nil error; want no public port")
	}
	if col := PortsColumn(s); col != "127.0.0.1:8443->443/tcp, 0.0.0.0:8080->80/tcp, 0.0.0.0:9000->9000/udp" {
		t.Errorf("PortsColumn = %q", col)
	}
}

func TestMatchLabels(t *testing.T) {
	have := map[string]string{"com.docker.compose.project": "shop", "tier": ""}
	for _, tc := range []struct {
		want map[string]string
		ok   bool
	}{
		{nil, true},
		{map[string]string{"com.docker.compose.project": "shop"}, true},
		{map[string]string{"com.docker.compose.project": ""}, true},
		{map[string]string{"com.docker.compose.project": "other"}, false},
		{map[string]string{"missing": ""}, false},
	} {
		if got := MatchLabels(have, tc.want); got != tc.ok {
			t.Errorf("MatchLabels(%v, %v) = %v; want %v", have, tc.want, got, tc.ok)
		}
	}
}
