package incidentpage

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/alerts"
	"github.com/oncall-copilot/oncall-copilot/eval/scenario"
	"github.com/oncall-copilot/oncall-copilot/redact"
	"github.com/oncall-copilot/oncall-copilot/tracesource/jsonl"
	"github.com/oncall-copilot/oncall-copilot/triage"
)

// memStore is the part of a store the pages read, in memory. Like the
// real stores it answers ErrNotFound for what it does not hold.
type memStore struct {
	mu    sync.Mutex
	incs  map[string]oncall.Incident
	invs  map[string]oncall.Investigation
	lists int
}

func newMemStore() *memStore {
	return &memStore{incs: map[string]oncall.Incident{}, invs: map[string]oncall.Investigation{}}
}

func (m *memStore) GetIncident(_ context.Context, key string) (oncall.Incident, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	inc, ok := m.incs[key]
	if !ok {
		return inc, fmt.Errorf("get incident %s: %w", key, oncall.ErrNotFound)
	}
	return inc, nil
}

func (m *memStore) GetInvestigation(_ context.Context, key string) (oncall.Investigation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	inv, ok := m.invs[key]
	if !ok {
		return inv, fmt.Errorf("get investigation %s: %w", key, oncall.ErrNotFound)
	}
	return inv, nil
}

func (m *memStore) ListIncidents(_ context.Context, since time.Time) ([]oncall.Incident, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lists++
	var out []oncall.Incident
	for _, inc := range m.incs {
		if !inc.UpdatedAt.Before(since) {
			out = append(out, inc)
		}
	}
	return out, nil
}

func (m *memStore) put(inc oncall.Incident, inv *oncall.Investigation) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.incs[inc.Key] = inc
	if inv != nil {
		m.invs[inc.Key] = *inv
	}
}

func redactor(t testing.TB) *redact.Redactor {
	t.Helper()
	r, err := redact.New(redact.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// triaged runs the real triage (offline diagnosis) of a bundled scenario
// and returns its incident, as the incident service records it, and the
// investigation it keeps.
func triaged(t testing.TB, name string) (oncall.Incident, *oncall.Investigation) {
	t.Helper()
	sc, err := scenario.Load(filepath.Join("..", "examples", "scenarios", name))
	if err != nil {
		t.Fatal(err)
	}
	return triageScenario(t, sc)
}

func triageScenario(t testing.TB, sc scenario.Scenario) (oncall.Incident, *oncall.Investigation) {
	t.Helper()
	n, err := alerts.DecodeAlertmanager(sc.Alert, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	src, err := jsonl.New(jsonl.Options{Path: sc.TracesPath})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := triage.NewService(triage.ServiceOptions{
		Sources:  map[string]triage.TraceSource{"jsonl": src},
		Redactor: redactor(t),
		LabelMap: map[string]string{"agent": "gen_ai.agent.name", "service": "service.name"},
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := svc.Triage(context.Background(), oncall.TriageRequest{Alert: n.Alerts[0]})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Investigation == nil {
		t.Fatal("triage kept no investigation")
	}
	a := n.Alerts[0]
	opened := a.StartsAt.Add(20 * time.Second)
	inc := oncall.Incident{
		Key: oncall.IncidentKey("agents", a.GroupKey), Status: oncall.IncidentAcknowledged, Alert: a,
		Channel: "C0123456789", ThreadTS: "1741000000.000100", OpenedAt: opened, UpdatedAt: opened.Add(5 * time.Minute),
		TriagedAt: opened.Add(40 * time.Second), AckedAt: opened.Add(3 * time.Minute), AckedBy: "U012ABCDEF", Fires: 1,
		Report: &rep, Diagnosis: rep.Diagnosis,
	}
	inv := *rep.Investigation
	inv.IncidentKey, inv.TriagedAt = inc.Key, inc.TriagedAt
	return inc, &inv
}
