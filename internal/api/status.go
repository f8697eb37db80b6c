package api

import (
	_ "embed"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/trunkline/trunkline/internal/model"
	"github.com/trunkline/trunkline/internal/store"
)

// openAPIDoc is the OpenAPI 3 description of routes(); TestOpenAPIMatchesRoutes
// keeps the two in step.
//
//go:embed openapi.json
var openAPIDoc []byte

// CDR page sizes for GET /api/v1/cdrs.
const (
	defaultCDRPage = 50
	maxCDRPage     = 1000
)

func (a *API) health(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (a *API) openAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPIDoc)
	return nil
}

func (a *API) listRegistrations(w http.ResponseWriter, r *http.Request) error {
	list := []model.Binding{}
	if a.opts.Registrations != nil {
		list = append(list, a.opts.Registrations.Bindings()...)
	}
	slices.SortFunc(list, func(x, y model.Binding) int {
		if c := strings.Compare(x.AOR, y.AOR); c != 0 {
			return c
		}
		return strings.Compare(x.Contact, y.Contact)
	})
	writeJSON(w, http.StatusOK, map[string]any{"registrations": list})
	return nil
}

func (a *API) listCalls(w http.ResponseWriter, r *http.Request) error {
	list := []model.ActiveCall{}
	if a.opts.Calls != nil {
		list = append(list, a.opts.Calls.Active()...)
	}
	slices.SortFunc(list, func(x, y model.ActiveCall) int {
		if c := x.StartTime.Compare(y.StartTime); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	writeJSON(w, http.StatusOK, map[string]any{"calls": list})
	return nil
}

// cdrPage is the response of GET /api/v1/cdrs. NextBefore is the before= value of
// the next (older) page; 0 when this page is the last.
type cdrPage struct {
	CDRs       []model.CDR `json:"cdrs"`
	NextBefore int64       `json:"next_before"`
}

func (a *API) listCDRs(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryInt(r, "limit")
	if err != nil {
		return err
	}
	switch {
	case limit == 0:
		limit = defaultCDRPage
	case limit > maxCDRPage:
		limit = maxCDRPage
	}
	before, err := queryInt(r, "before")
	if err != nil {
		return err
	}
	list, err := a.opts.Store.ListCDRs(r.Context(), store.CDRQuery{Limit: int(limit), BeforeID: before})
	if err != nil {
		return err
	}
	page := cdrPage{CDRs: list}
	if page.CDRs == nil {
		page.CDRs = []model.CDR{}
	}
	if n := len(list); n == int(limit) && list[n-1].ID > 1 {
		page.NextBefore = list[n-1].ID
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// queryInt reads a non-negative integer query parameter; absent = 0.
func queryInt(r *http.Request, name string) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, badRequest(name, "must be a non-negative integer")
	}
	return n, nil
}
